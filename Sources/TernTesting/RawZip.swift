import Foundation

/// Builds zip archives byte by byte, for tests of hostile bundles: every field a zip library
/// would get right (names with NUL bytes, Unix file types such as FIFOs, lying sizes, entries
/// that share data, ZIP64 end records for more than 65,535 entries) is the caller's to set.
///
/// Layout: PKWARE APPNOTE.TXT 6.3.10 — a local header and the data per entry, then the central
/// directory, then (above 65,535 entries) the ZIP64 end record and locator, then the end record.
public enum RawZip {
    /// One entry.
    public struct Entry: Sendable {
        /// The name as stored (UTF-8 flag set).
        public var name: [UInt8]
        /// The stored bytes: the content (method 0) or a raw deflate stream (method 8).
        public var data: [UInt8]
        /// Compression method: 0 stored, 8 deflate.
        public var method: UInt16
        /// Declared uncompressed size; default: `data.count`.
        public var uncompressedSize: UInt32?
        /// Declared CRC-32; default: CRC-32 of `data` (right for stored entries).
        public var crc: UInt32?
        /// High byte of "version made by": 3 Unix (default), 0 MS-DOS.
        public var madeBy: UInt8
        /// `st_mode` put in the high 16 bits of the external attributes (type and permission
        /// bits), e.g. `0o100644` for a regular file, `0o010644` for a FIFO.
        public var mode: UInt32
        /// General purpose flags; default 0x0800 (UTF-8 names). Bit 0 marks encryption.
        public var flags: UInt16
        /// When set, the entry has no local header or data of its own: its directory record
        /// points at the local header of entry `index` (entries that share data).
        public var sharesDataWith: Int?

        /// Creates an entry; defaults as documented on each property.
        public init(
            name: [UInt8], data: [UInt8] = [], method: UInt16 = 0, uncompressedSize: UInt32? = nil, crc: UInt32? = nil,
            madeBy: UInt8 = 3, mode: UInt32 = 0o100644, flags: UInt16 = 0x0800, sharesDataWith: Int? = nil
        ) {
            self.name = name
            self.data = data
            self.method = method
            self.uncompressedSize = uncompressedSize
            self.crc = crc
            self.madeBy = madeBy
            self.mode = mode
            self.flags = flags
            self.sharesDataWith = sharesDataWith
        }

        /// A stored regular file (or any `mode`) named `name` holding `text`.
        public static func file(_ name: String, _ text: String = "", mode: UInt32 = 0o100644) -> Entry {
            Entry(name: Array(name.utf8), data: Array(text.utf8), mode: mode)
        }

        /// A folder entry (`name` should end in `/`).
        public static func directory(_ name: String, mode: UInt32 = 0o040755) -> Entry {
            Entry(name: Array(name.utf8), mode: mode)
        }

        /// A symbolic link `name` → `target` (the link's data is its target, as Info-ZIP stores it).
        public static func symlink(_ name: String, to target: String) -> Entry {
            Entry(name: Array(name.utf8), data: Array(target.utf8), mode: 0o120777)
        }
    }

    /// The archive holding `entries` in order.
    public static func build(_ entries: [Entry]) -> Data {
        var out: [UInt8] = []
        var offsets: [UInt32] = []
        for entry in entries {
            if let shared = entry.sharesDataWith {
                offsets.append(offsets[shared])
                continue
            }
            offsets.append(UInt32(out.count))
            put32(&out, 0x0403_4b50)
            put16(&out, 20)
            put16(&out, entry.flags)
            put16(&out, entry.method)
            put16(&out, 0)  // time
            put16(&out, 0x21)  // date: 1980-01-01
            put32(&out, entry.crc ?? crc32(entry.data))
            put32(&out, UInt32(entry.data.count))
            put32(&out, entry.uncompressedSize ?? UInt32(entry.data.count))
            put16(&out, UInt16(entry.name.count))
            put16(&out, 0)
            out += entry.name
            out += entry.data
        }
        let directoryOffset = out.count
        for (index, entry) in entries.enumerated() {
            let owner = entry.sharesDataWith.map { entries[$0] } ?? entry
            put32(&out, 0x0201_4b50)
            put16(&out, UInt16(entry.madeBy) << 8 | 20)
            put16(&out, 20)
            put16(&out, entry.flags)
            put16(&out, owner.method)
            put16(&out, 0)
            put16(&out, 0x21)
            put32(&out, entry.crc ?? owner.crc ?? crc32(owner.data))
            put32(&out, UInt32(owner.data.count))
            put32(&out, entry.uncompressedSize ?? owner.uncompressedSize ?? UInt32(owner.data.count))
            put16(&out, UInt16(entry.name.count))
            put16(&out, 0)  // extra
            put16(&out, 0)  // comment
            put16(&out, 0)  // disk
            put16(&out, 0)  // internal attributes
            put32(&out, entry.mode << 16)
            put32(&out, offsets[index])
            out += entry.name
        }
        let directorySize = out.count - directoryOffset
        let zip64 = entries.count > 0xFFFF
        if zip64 {
            let recordOffset = out.count
            put32(&out, 0x0606_4b50)
            put64(&out, 44)  // size of the rest of this record
            put16(&out, 45)
            put16(&out, 45)
            put32(&out, 0)
            put32(&out, 0)
            put64(&out, UInt64(entries.count))
            put64(&out, UInt64(entries.count))
            put64(&out, UInt64(directorySize))
            put64(&out, UInt64(directoryOffset))
            put32(&out, 0x0706_4b50)
            put32(&out, 0)
            put64(&out, UInt64(recordOffset))
            put32(&out, 1)
        }
        put32(&out, 0x0605_4b50)
        put16(&out, 0)
        put16(&out, 0)
        put16(&out, zip64 ? 0xFFFF : UInt16(entries.count))
        put16(&out, zip64 ? 0xFFFF : UInt16(entries.count))
        put32(&out, UInt32(directorySize))
        put32(&out, zip64 ? 0xFFFF_FFFF : UInt32(directoryOffset))
        put16(&out, 0)
        return Data(out)
    }

    /// CRC-32 (ISO-HDLC, the zip and gzip checksum: polynomial 0xEDB88320, reflected).
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }

    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 != 0 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    private static func put16(_ out: inout [UInt8], _ value: UInt16) {
        out.append(UInt8(truncatingIfNeeded: value))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
    }
    private static func put32(_ out: inout [UInt8], _ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
    private static func put64(_ out: inout [UInt8], _ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }
}
