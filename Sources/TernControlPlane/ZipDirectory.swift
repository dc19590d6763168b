import Foundation

/// The central directory of a zip archive, read independently of ZIPFoundation for the fields
/// it does not expose and for checks it does not make: the entry count the archive declares
/// (checked against ``BundleLimits/maxEntries`` before a single entry is read), each entry's
/// "version made by" and external attributes (its Unix file type and mode), its encryption
/// flag and where its data lies (so entries that share data, Fifield's overlapping zip bomb,
/// are seen).
///
/// Format: PKWARE APPNOTE.TXT 6.3.10, sections 4.3.12 (central directory header), 4.3.14–4.3.16
/// (ZIP64 end records), 4.3.7 (local file header) and 4.5.3 (ZIP64 extra field). The records are found the way
/// ZIPFoundation 0.9 finds them (the last end-of-central-directory signature; the ZIP64 record
/// just before its locator), so the two readers walk the same list; ``BundleExtractor`` checks
/// that they agree. Every read is bounds-checked: a damaged archive gives a ``BundleError``,
/// never a trap.
struct ZipDirectory {
    /// One central directory record (APPNOTE 4.3.12).
    struct Record {
        /// The high byte of "version made by": 3 Unix, 19 macOS (external attributes hold a
        /// `st_mode`), 0 MS-DOS, ….
        var madeBy: UInt8
        /// General purpose bit flag; bit 0: encrypted.
        var flags: UInt16
        /// Compressed size in bytes (ZIP64 value when the 32-bit field is 0xFFFFFFFF).
        var compressedSize: UInt64
        /// Uncompressed size in bytes (ZIP64 as above).
        var uncompressedSize: UInt64
        /// Offset of the entry's local header from the start of the archive (ZIP64 as above).
        var localHeaderOffset: UInt64
        /// Offset just past the entry's data (its local header, name, extra field and
        /// compressed bytes).
        var dataEnd: UInt64
        /// External file attributes; for Unix-made entries the high 16 bits are `st_mode`.
        var externalAttributes: UInt32
        /// The name, decoded as UTF-8 (invalid bytes replaced): for messages only.
        var name: String

        /// The Unix `st_mode` of a Unix- or macOS-made entry, nil for others.
        var unixMode: UInt32? { madeBy == 3 || madeBy == 19 ? externalAttributes >> 16 : nil }
        /// Whether bit 0 (encryption) of the flags is set.
        var isEncrypted: Bool { flags & 1 != 0 }
    }

    /// Entries the end record declares.
    var declaredCount: UInt64
    /// Offset of the central directory from the start of the archive.
    var directoryOffset: UInt64
    /// Size of the zip in bytes.
    var archiveSize: UInt64

    private let data: Data

    /// Finds the end records of `data`.
    /// - Throws: ``BundleError`` when no end-of-central-directory record is in the last 65,557
    ///   bytes (22 + the longest comment), where APPNOTE 4.3.16 puts it. Looking there only
    ///   bounds the search: ZIPFoundation scans the whole archive one byte at a time.
    init(_ data: Data) throws {
        self.data = data
        archiveSize = UInt64(data.count)
        let bytes = data
        let last = bytes.count - 22
        guard last >= 0 else { throw Self.unreadable("it is too short to hold a zip directory") }
        var found: Int?
        var position = last
        let lowest = max(0, last - 0xFFFF)
        while position >= lowest {
            if Self.u32(bytes, position) == 0x0605_4b50 {
                found = position
                break
            }
            position -= 1
        }
        guard let end = found else {
            throw Self.unreadable("no end-of-central-directory record in its last 65,557 bytes")
        }
        declaredCount = UInt64(Self.u16(bytes, end + 10) ?? 0)
        directoryOffset = UInt64(Self.u32(bytes, end + 16) ?? 0)
        // ZIP64: a locator (20 bytes) right before the end record, the ZIP64 end record (56
        // bytes) right before the locator, as ZIPFoundation reads it.
        let locator = end - 20
        let record = locator - 56
        if record >= 0, Self.u32(bytes, locator) == 0x0706_4b50, Self.u32(bytes, record) == 0x0606_4b50,
            let count = Self.u64(bytes, record + 32), let offset = Self.u64(bytes, record + 48)
        {
            declaredCount = count
            directoryOffset = offset
        }
    }

    /// Reads the first `count` records (call after checking ``declaredCount``) and checks where
    /// their data lies, before ZIPFoundation seeks anywhere: each local header is inside the
    /// archive with the same compression method, its data ends before the next entry's local
    /// header (entries do not overlap) and before the central directory, and a stored entry
    /// declares the size it stores. ZIPFoundation 0.9 traps on a seek past the end of an
    /// in-memory archive (`Archive.MemoryFile.readData`) or to an offset over `Int64.max`
    /// (`Data.readStruct`), so these checks keep a hostile bundle from crashing the server.
    /// - Throws: ``BundleError`` naming the first record that is out of bounds or damaged.
    func records(_ count: Int) throws -> [Record] {
        var result: [Record] = []
        result.reserveCapacity(count)
        guard directoryOffset <= archiveSize else {
            throw Self.unreadable("its central directory starts past its end")
        }
        var at = Int(directoryOffset)
        for index in 0..<count {
            guard Self.u32(data, at) == 0x0201_4b50, let flags = Self.u16(data, at + 8),
                let method = Self.u16(data, at + 10),
                let compressed32 = Self.u32(data, at + 20), let uncompressed32 = Self.u32(data, at + 24),
                let nameLength = Self.u16(data, at + 28), let extraLength = Self.u16(data, at + 30),
                let commentLength = Self.u16(data, at + 32), let external = Self.u32(data, at + 38),
                let offset32 = Self.u32(data, at + 42), let madeBy = Self.u16(data, at + 4)
            else {
                throw Self.unreadable("entry \(index + 1) of its central directory is damaged")
            }
            let extraStart = at + 46 + Int(nameLength)
            let next = extraStart + Int(extraLength) + Int(commentLength)
            guard next <= data.count else {
                throw Self.unreadable("entry \(index + 1) of its central directory runs past its end")
            }
            // ZIP64 extra field (APPNOTE 4.5.3): the 64-bit values of the fields set to all ones,
            // in the order uncompressed size, compressed size, local header offset.
            var uncompressed = UInt64(uncompressed32)
            var compressed = UInt64(compressed32)
            var offset = UInt64(offset32)
            if uncompressed32 == .max || compressed32 == .max || offset32 == .max,
                let zip64 = Self.extraField(0x0001, in: data, from: extraStart, length: Int(extraLength))
            {
                var field = zip64.lowerBound
                func value(_ current: UInt64) -> UInt64 {
                    defer { field += 8 }
                    return field + 8 <= zip64.upperBound ? Self.u64(data, field) ?? current : current
                }
                if uncompressed32 == .max { uncompressed = value(uncompressed) }
                if compressed32 == .max { compressed = value(compressed) }
                if offset32 == .max { offset = value(offset) }
            }
            let name = String(decoding: data[(data.startIndex + at + 46)..<(data.startIndex + extraStart)], as: UTF8.self)
            let entry = "bundle entry \(BundleExtractor.display(name))"
            guard offset <= archiveSize, Self.u32(data, Int(offset)) == 0x0403_4b50,
                let localMethod = Self.u16(data, Int(offset) + 8), let localName = Self.u16(data, Int(offset) + 26),
                let localExtra = Self.u16(data, Int(offset) + 28)
            else {
                throw BundleError(description: "\(entry) has no local header where the central directory says (damaged archive)")
            }
            guard localMethod == method else {
                throw BundleError(description: "\(entry) has a different compression method in its two headers (damaged archive)")
            }
            guard method != 0 || compressed == uncompressed else {
                throw BundleError(description: "\(entry) stores \(compressed) bytes uncompressed but declares \(uncompressed)")
            }
            let dataStart = offset + 30 + UInt64(localName) + UInt64(localExtra)
            let (dataEnd, overflow) = dataStart.addingReportingOverflow(compressed)
            guard !overflow, dataEnd <= directoryOffset else {
                throw BundleError(description: "\(entry) has data running past the central directory (damaged archive)")
            }
            result.append(
                Record(
                    madeBy: UInt8(madeBy >> 8), flags: flags, compressedSize: compressed, uncompressedSize: uncompressed,
                    localHeaderOffset: offset,
                    dataEnd: dataEnd, externalAttributes: external, name: name))
            at = next
        }
        // Entries sharing data, as zip bombs reuse one compressed kernel for many entries
        // (Fifield, "A better zip bomb", 2019).
        let order = result.indices.sorted { result[$0].localHeaderOffset < result[$1].localHeaderOffset }
        for (position, index) in order.enumerated().dropLast() {
            let following = result[order[position + 1]]
            guard result[index].dataEnd <= following.localHeaderOffset else {
                throw BundleError(
                    description: "bundle entry \(BundleExtractor.display(result[index].name)) overlaps bundle entry \(BundleExtractor.display(following.name)) in the archive (entries sharing data, as in a zip bomb, are not allowed)")
            }
        }
        return result
    }

    /// The byte range of the data of extra field `id` in the extra fields at `start..<start+length`.
    private static func extraField(_ id: UInt16, in data: Data, from start: Int, length: Int) -> Range<Int>? {
        var at = start
        let end = start + length
        while at + 4 <= end, let header = u16(data, at), let size = u16(data, at + 2) {
            let body = at + 4..<at + 4 + Int(size)
            guard body.upperBound <= end else { return nil }
            if header == id { return body }
            at = body.upperBound
        }
        return nil
    }

    private static func unreadable(_ why: String) -> BundleError {
        BundleError(description: "the bundle is not a readable zip archive: \(why)")
    }

    /// Little-endian integers at `offset` from the start of `data`, nil when out of bounds.
    private static func u16(_ data: Data, _ offset: Int) -> UInt16? {
        integer(data, offset, 2).map { UInt16(truncatingIfNeeded: $0) }
    }
    private static func u32(_ data: Data, _ offset: Int) -> UInt32? {
        integer(data, offset, 4).map { UInt32(truncatingIfNeeded: $0) }
    }
    private static func u64(_ data: Data, _ offset: Int) -> UInt64? { integer(data, offset, 8) }

    private static func integer(_ data: Data, _ offset: Int, _ size: Int) -> UInt64? {
        guard offset >= 0, offset <= data.count - size else { return nil }
        let base = data.startIndex + offset
        var value: UInt64 = 0
        for index in (0..<size).reversed() { value = value << 8 | UInt64(data[base + index]) }
        return value
    }
}
