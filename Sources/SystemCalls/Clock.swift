#if canImport(Glibc)
import Glibc
#endif

/// The process's one monotonic clock (seconds since an arbitrary start; for durations, timeouts, rates).
public enum MonotonicClock {
    @inline(__always)
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}

/// Wall-clock time (for event-time plausibility, timestamps in files and logs).
public enum WallClock {
    public static func milliseconds() -> Int64 { milliseconds(of: CLOCK_REALTIME) }

    /// The wall clock as of the kernel's last tick (resolution a few milliseconds, never ahead of ``milliseconds()``):
    /// a read of memory the kernel keeps current, with no clock-counter read, for checks made per point against
    /// limits of seconds.
    public static func coarseMilliseconds() -> Int64 { milliseconds(of: CLOCK_REALTIME_COARSE) }

    private static func milliseconds(of clock: clockid_t) -> Int64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// The calling thread's CPU time (user + system, seconds): for measuring work apart from waits and preemption.
public enum ThreadClock {
    public static func cpuSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
