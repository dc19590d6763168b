import TernCore
import Testing

@Suite struct QuantityTests {
    @Test(arguments: [
        ("200m", 200), ("0.5", 500), ("2", 2000), ("1", 1000), (".5", 500), ("5.", 5000), ("+1", 1000),
        ("1.5", 1500), ("0.001", 1), ("20m", 20), ("0", 0), ("0m", 0), ("1e3", 1_000_000), ("1E-3", 1),
        ("2k", 2_000_000), ("1000000u", 1000), ("1500000000n", 1500), ("1Ki", 1_024_000),
    ])
    func cpuQuantityIsParsedExactlyInMillicores(text: String, millicores: Int) throws {
        #expect(try Quantity.cpuMillicores(text) == millicores)
    }

    @Test(arguments: [
        ("1Gi", 1_073_741_824), ("129M", 129_000_000), ("128974848", 128_974_848), ("1e3", 1000),
        ("123Mi", 128_974_848), ("1.5Ki", 1536), ("0.5Gi", 536_870_912), ("1k", 1000), ("2Ti", 2_199_023_255_552),
        ("8Ei", 0), ("1E", 1_000_000_000_000_000_000), ("1000m", 1), ("0.0009765625Ki", 1), ("512Mi", 536_870_912),
    ])
    func memoryQuantityIsParsedExactlyInBytes(text: String, bytes: Int64) throws {
        if text == "8Ei" {
            #expect(throws: QuantityError(input: text, kind: .memory, code: .tooLarge)) { try Quantity.bytes(text) }
        } else {
            #expect(try Quantity.bytes(text) == bytes)
        }
    }

    @Test(arguments: [
        ("two", QuantityError.Code.malformed), ("", .malformed), ("m", .malformed), (".", .malformed),
        ("1.2.3", .malformed), ("5 m", .malformed), (" 5", .malformed), ("1KB", .malformed), ("1e", .malformed),
        ("1e+", .malformed), ("0x10", .malformed), ("1mi", .malformed), ("-1", .negative), ("-200m", .negative),
        ("0.0001", .tooPrecise), ("0.5m", .tooPrecise), ("1e-4", .tooPrecise), ("1e999", .tooLarge),
        ("10000000000000000", .tooLarge), ("9Ei", .tooLarge), ("1234567890123456789", .tooLarge),
    ])
    func invalidCPUQuantityIsRejected(text: String, code: QuantityError.Code) {
        #expect(throws: QuantityError(input: text, kind: .cpu, code: code)) { try Quantity.cpuMillicores(text) }
    }

    @Test(arguments: [
        ("100m", QuantityError.Code.tooPrecise), ("0.1Ki", .tooPrecise), ("-1Gi", .negative), ("16Ei", .tooLarge),
    ])
    func invalidMemoryQuantityIsRejected(text: String, code: QuantityError.Code) {
        #expect(throws: QuantityError(input: text, kind: .memory, code: code)) { try Quantity.bytes(text) }
    }

    @Test func errorMessagesGiveExamples() {
        #expect(
            QuantityError(input: "two", kind: .cpu, code: .malformed).description
                == #""two" is not a CPU quantity (examples: 200m, 0.5, 2)"#)
        #expect(
            QuantityError(input: "lots", kind: .memory, code: .malformed).description
                == #""lots" is not a memory quantity (examples: 512Mi, 1Gi, 129M, 128974848)"#)
        #expect(
            QuantityError(input: "0.0001", kind: .cpu, code: .tooPrecise).description
                == #""0.0001" is finer than 1m (one thousandth of a CPU, the smallest unit)"#)
        #expect(
            QuantityError(input: "-1", kind: .cpu, code: .negative).description
                == #""-1" is negative; a CPU quantity must be at least 0"#)
    }

    @Test func formattingUsesTheUnitsUsersWrite() {
        #expect(Quantity.formatMillicores(2000) == "2")
        #expect(Quantity.formatMillicores(250) == "250m")
        #expect(Quantity.formatBytes(1_073_741_824) == "1Gi")
        #expect(Quantity.formatBytes(129_000_000) == "129M")
        #expect(Quantity.formatBytes(1_000_001) == "1000001")
        #expect(Quantity.formatBytes(0) == "0")
    }
}
