import SystemCalls

/// The on-disk model store (ARCHITECTURE.md §4):
/// `<root>/<pipeline>/<key-dir>/000001.safetensors … LATEST`, where `LATEST` names the live version.
///
/// Writers lock the key directory, write `tmp-*`, fsync, rename, fsync the directory, then replace
/// `LATEST` the same way and prune to the newest `keepVersions` (never the live one). Readers only ever
/// see complete files.
public struct CheckpointStore: Sendable {
    public let root: String
    public let keepVersions: Int

    public init(root: String, keepVersions: Int = 5) {
        precondition(keepVersions >= 1, "keepVersions must be at least 1")
        (self.root, self.keepVersions) = (root, keepVersions)
    }

    public struct StoreError: Error, Equatable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// One safe path component for a composite key: every byte outside `[A-Za-z0-9_-]` is
    /// percent-encoded (so no `/`, `.` or `..`), values are joined with `+`, an empty value is a lone `%`
    /// and the empty key `%%` (neither can come from encoding), and anything longer than 200 bytes is cut
    /// and suffixed with a hash of the whole key.
    public static func directoryName(_ key: [String]) -> String {
        guard !key.isEmpty else { return "%%" }
        let encoded = key.map { v in
            v.isEmpty ? "%" : v.utf8.map { b -> String in
                let safe = (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95 || b == 45
                return safe ? String(UnicodeScalar(b)) : "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }.joined()
        }.joined(separator: "+")
        guard encoded.utf8.count > 200 else { return encoded }
        let digest = SHA256.hex(Array(key.joined(separator: "\u{0}").utf8)).prefix(32)
        return String(encoded.prefix(160)) + "~" + digest
    }

    /// The key a ``directoryName(_:)`` stands for, or nil when the name is not one it makes or was cut and
    /// hashed (a key longer than 200 encoded bytes: read it from the checkpoint).
    public static func key(fromDirectoryName name: String) -> [String]? {
        if name == "%%" { return [] }
        guard !name.contains("~") else { return nil }
        var key: [String] = []
        for part in name.split(separator: "+", omittingEmptySubsequences: false) {
            if part == "%" { key.append(""); continue }
            var bytes: [UInt8] = []
            var u = Array(part.utf8)[...]
            while let b = u.first {
                u = u.dropFirst()
                if b == UInt8(ascii: "%") {
                    guard u.count >= 2, let v = UInt8(String(decoding: u.prefix(2), as: UTF8.self), radix: 16) else { return nil }
                    bytes.append(v)
                    u = u.dropFirst(2)
                } else {
                    bytes.append(b)
                }
            }
            guard !bytes.isEmpty, let value = String(validating: bytes, as: UTF8.self) else { return nil }
            key.append(value)
        }
        return directoryName(key) == name ? key : nil
    }

    public func keyDirectory(pipeline: String, key: [String]) -> String {
        "\(root)/\(CheckpointStore.directoryName([pipeline]))/\(CheckpointStore.directoryName(key))"
    }

    public static func fileName(version: Int) -> String {
        let s = String(version)
        return String(repeating: "0", count: max(0, 6 - s.count)) + s + ".safetensors"
    }

    /// The version a store file name holds (`000042.safetensors` → 42), or nil for other names.
    public static func version(ofFileName name: String) -> Int? {
        guard name.hasSuffix(".safetensors"), !name.hasPrefix("tmp-") else { return nil }
        let stem = name.dropLast(".safetensors".count)
        guard stem.count >= 6, stem.allSatisfy(\.isNumber), let v = Int(stem), v >= 1 else { return nil }
        return v
    }

    /// Versions present in a key directory, ascending.
    public func versions(pipeline: String, key: [String]) -> [Int] {
        CheckpointStore.listDirectory(keyDirectory(pipeline: pipeline, key: key)).compactMap(CheckpointStore.version(ofFileName:)).sorted()
    }

    /// The live version per `LATEST` and its path, if any. A `LATEST` naming anything but a present
    /// version file is ignored (nil).
    public func latest(pipeline: String, key: [String]) -> (version: Int, path: String)? {
        CheckpointStore.latest(in: keyDirectory(pipeline: pipeline, key: key))
    }

    /// The live version of a key directory, per its `LATEST`.
    public static func latest(in dir: String) -> (version: Int, path: String)? {
        guard let text = CheckpointStore.readSmallFile("\(dir)/LATEST") else { return nil }
        let name = text.trimmingWhitespace()
        guard let v = CheckpointStore.version(ofFileName: name), !name.contains("/") else { return nil }
        let path = "\(dir)/\(name)"
        guard Files.readability(path) == nil else { return nil }
        return (v, path)
    }

    /// Writes `checkpoint` as the next version of its key and makes it live. Returns the version and path.
    @discardableResult
    public func publish(_ checkpoint: Checkpoint) throws(StoreError) -> (version: Int, path: String) {
        let dir = keyDirectory(pipeline: checkpoint.pipelineID, key: checkpoint.key)
        try CheckpointStore.makeDirectories(dir)
        let lock: FileLock
        do { lock = try FileLock("\(dir)/.lock") } catch { throw StoreError(path: dir, reason: "cannot lock: \(error)") }
        defer { lock.unlock() }
        // Under the lock no other writer is active here: any temporary file is a dead writer's leftover.
        for name in CheckpointStore.listDirectory(dir) where name.hasPrefix("tmp-") { Files.remove("\(dir)/\(name)") }
        var c = checkpoint
        c.version = (versions(pipeline: c.pipelineID, key: c.key).last ?? 0) + 1
        let name = CheckpointStore.fileName(version: c.version)
        do {
            try AtomicFile.write(c.encoded(), to: "\(dir)/\(name)")
            try AtomicFile.write(Array((name + "\n").utf8), to: "\(dir)/LATEST")
        } catch {
            throw StoreError(path: error.path, reason: error.description)
        }
        prune(dir: dir, live: c.version)
        return (c.version, "\(dir)/\(name)")
    }

    /// Points `LATEST` at an existing older version (rollback).
    public func rollback(pipeline: String, key: [String], to version: Int) throws(StoreError) {
        let dir = keyDirectory(pipeline: pipeline, key: key)
        guard versions(pipeline: pipeline, key: key).contains(version) else {
            throw StoreError(path: dir, reason: "no version \(version)")
        }
        do {
            try AtomicFile.write(Array((CheckpointStore.fileName(version: version) + "\n").utf8), to: "\(dir)/LATEST")
        } catch {
            throw StoreError(path: error.path, reason: error.description)
        }
    }

    private func prune(dir: String, live: Int) {
        let present = CheckpointStore.listDirectory(dir).compactMap(CheckpointStore.version(ofFileName:)).sorted()
        for v in present.dropLast(keepVersions) where v != live {
            Files.remove("\(dir)/\(CheckpointStore.fileName(version: v))")
        }
    }

    static func makeDirectories(_ path: String) throws(StoreError) {
        do { try Files.makeDirectories(path) } catch { throw StoreError(path: error.path ?? path, reason: "cannot create directory: \(error.reason)") }
    }

    public static func listDirectory(_ path: String) -> [String] { Files.list(path) }

    static func readSmallFile(_ path: String, limit: Int = 4096) -> String? { Files.readSmallText(path, limit: limit) }
}

extension String {
    /// The string without leading and trailing whitespace (no Foundation needed).
    public func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
