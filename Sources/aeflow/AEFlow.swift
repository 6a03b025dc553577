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
        subcommands: [Serve.self, RetrainCommand.self, UDF.self, Demo.self, Health.self, KeysCommand.self, Train.self, Score.self, Backtest.self, Evaluate.self, CorpusCommand.self, CheckpointCommand.self, ConfigCommand.self])

    /// Logging, BLAS threads and the vector kernels' level are set up once, before any command runs.
    static func setUp(_ options: GlobalOptions) throws {
        Logfmt.bootstrap(level: options.verbose ? .debug : .info)
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
    @Flag(name: .shortAndLong, help: "Debug logging.")
    var verbose = false

    @Option(name: .long, help: "OpenBLAS threads (set once at start-up).")
    var blasThreads = 1
}

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
