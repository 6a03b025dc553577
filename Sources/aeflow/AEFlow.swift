import ArgumentParser
import Daemon
import Stage
import Logging
import SystemCalls
import TensorCore

@main
struct AEFlow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aeflow",
        abstract: "Streaming anomaly detection with autoencoders (numalogic's models, natively).",
        version: AEFlowVersion.current,
        subcommands: numaflowCommands + [Serve.self, RetrainCommand.self, Demo.self, Health.self, KeysCommand.self, Train.self, Score.self, Backtest.self, Evaluate.self, CorpusCommand.self, CheckpointCommand.self, ConfigCommand.self])

    /// Logging, BLAS threads and the vector kernels' level are set up once, before any command runs.
    static func setUp(_ options: GlobalOptions) throws {
        Logfmt.bootstrap(level: options.verbose ? .debug : options.logLevel.level, format: options.logFormat)
        BLAS.setThreads(options.blasThreads)
        try checkKernelLevel()
        Logger(label: "aeflow").debug("vector kernels", metadata: ["isa": "\(KernelISA.active)", "supported": "\(KernelISA.supported)"])
    }

    /// A bad AEFLOW_KERNELS_ISA value is a one-line error before anything runs.
    static func checkKernelLevel() throws {
        do { _ = try KernelISA.environmentLimit() } catch { throw fail("\(error)") }
    }
}

struct GlobalOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Debug logging (the same as --log-level debug).")
    var verbose = false

    @Option(name: .long, help: "Least severe log level written: trace, debug, info, notice, warning, error, critical.")
    var logLevel: LogLevelOption = .info

    @Option(name: .long, help: "Log line format: logfmt or json (one object per line).")
    var logFormat: Logfmt.Format = .logfmt

    @Option(name: .long, help: "OpenBLAS threads (set once at start-up).")
    var blasThreads = 1
}

/// `--log-level` values: swift-log's levels by name.
struct LogLevelOption: ExpressibleByArgument, Sendable {
    let level: Logger.Level
    static let info = LogLevelOption(level: .info)
    init(level: Logger.Level) { self.level = level }
    init?(argument: String) {
        guard let l = Logger.Level(rawValue: argument.lowercased()) else { return nil }
        level = l
    }
    static var allValueStrings: [String] { Logger.Level.allCases.map(\.rawValue) }
    var defaultValueDescription: String { level.rawValue }
}

extension Logfmt.Format: ExpressibleByArgument {}

/// The Numaflow commands, when built with the `Numaflow` trait (the default; `make demo` leaves it out).
#if Numaflow
let numaflowCommands: [any ParsableCommand.Type] = [UDF.self, Transform.self]
#else
let numaflowCommands: [any ParsableCommand.Type] = []
#endif

/// Prints a one-line error to standard error and exits 1 (no stack traces for user errors).
struct UserFacingError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func fail(_ message: String) -> ExitCode {
    FileHandleStandardError.write("aeflow: \(message)\n")
    return ExitCode(1)
}


enum FileHandleStandardError {
    static func write(_ s: String) { Files.writeStandardError(s) }
}

#if canImport(Glibc)
import Glibc
#endif
