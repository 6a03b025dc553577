import Foundation
import SystemCalls
import Testing

/// The kernel's thread names: cut to the kernel's 15 bytes at a character boundary, without the process's own
/// prefix, and set on the thread that asks.
@Suite struct ThreadNameTests {
    @Test func kernelNamesFitTheKernel() {
        #expect(ThreadName.kernelName("aeflow-ingest") == "ingest")
        #expect(ThreadName.kernelName("aeflow-train-scheduler") == "train-scheduler")
        #expect(ThreadName.kernelName("aeflow-handshake-monitor") == "handshake-monit")
        #expect(ThreadName.kernelName("aeflow-") == "aeflow-")
        #expect(ThreadName.kernelName("rééééééééé") == "rééééééé")   // 15 bytes would split an é
        #expect(ThreadName.kernelName("rééééééééé").utf8.count == 15)
    }

    @Test func aThreadNamesItself() {
        let seen = NSLock()
        nonisolated(unsafe) var name = ""
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            let failure = ThreadName.setCurrent("aeflow-scoring-1")
            let n = failure.map { "\($0)" } ?? ((try? ThreadName.current()) ?? "unreadable")
            // Seen from outside the thread too: among the process's tasks.
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            let listed = tasks.contains {
                (try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "scoring-1"
            }
            seen.lock(); name = n + "|" + (listed ? "listed" : "not listed"); seen.unlock()
            done.signal()
        }
        t.start()
        done.wait()
        seen.lock(); defer { seen.unlock() }
        #expect(name == "scoring-1|listed")
    }
}
