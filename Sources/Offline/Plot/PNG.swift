import CompressNIO
import NIOCore

/// A minimal PNG writer: 8-bit RGB, no interlacing, each scanline filtered with PNG's `Up` filter and the image
/// data deflated by zlib. Charts (large flat areas) come out at a few tens of KB.
public enum PNG {
    /// Encodes `width × height` RGB pixels (row-major, 3 bytes each).
    public static func encode(width: Int, height: Int, rgb: [UInt8]) -> [UInt8] {
        precondition(width > 0 && height > 0 && rgb.count == width * height * 3, "PNG: \(rgb.count) bytes for \(width)×\(height)")
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header: [UInt8] = []
        header += be32(UInt32(width))
        header += be32(UInt32(height))
        header += [8, 2, 0, 0, 0]     // bit depth 8, colour type RGB, deflate, adaptive filtering, no interlace
        chunk("IHDR", header, into: &out)
        // Scanlines, each prefixed with filter type 2 (Up: the byte minus the byte above it, PNG spec §9.2).
        let stride = width * 3
        var raw: [UInt8] = []
        raw.reserveCapacity(height * (stride + 1))
        for y in 0..<height {
            raw.append(2)
            for x in 0..<stride { raw.append(rgb[y * stride + x] &- (y > 0 ? rgb[(y - 1) * stride + x] : 0)) }
        }
        chunk("IDAT", zlib(raw), into: &out)
        chunk("IEND", [], into: &out)
        return out
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8], into out: inout [UInt8]) {
        out += be32(UInt32(data.count))
        let body = Array(type.utf8) + data
        out += body
        out += be32(crc32(body))
    }

    /// The image data as a zlib stream (RFC 1950), compressed with zlib itself (through compress-nio).
    static func zlib(_ data: [UInt8]) -> [UInt8] {
        var input = ByteBuffer(bytes: data)
        do {
            var out = try input.compress(with: .zlib())
            return out.readBytes(length: out.readableBytes) ?? []
        } catch {
            // zlib fails only on exhausted memory; there is no meaningful image without it.
            preconditionFailure("zlib compression failed: \(error)")
        }
    }

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
