// Autoencoder benchmarks, JSON lines for bench/run.py (which runs numalogic's side on the same data).
//
//   .build/release/ModelBench --data F.safetensors --configs bench/model_configs.json [--epochs 10] [--batch 64] [--threads 1]
//                             [--batch-repeats 5] [--train-only]
//
// Per model (configs shared with the Python side): training wall time for the given epochs, single-window
// inference latency (reconstruction errors of one (1, L, F) window), and batch-4096 inference throughput, each
// through the autograd engine (`reconstructionErrors`) and through the compiled inference plan the daemon
// scores with (plan reconstruction plus the element-wise criterion, scratch reused as on a scoring thread); and,
// with a model per key, a window of each of 256 keys' pipelines scored one call per key vs in one stacked pass.
import Autoencoders
import Foundation
import Scoring
import TensorCore
import Training

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func median(repeats: Int = 7, iterations: Int, _ body: () -> Void) -> Double {
    for _ in 0..<max(1, iterations / 4) { body() }
    var samples: [Double] = []
    for _ in 0..<repeats {
        let t0 = now()
        for _ in 0..<iterations { body() }
        samples.append((now() - t0) / Double(iterations))
    }
    return samples.sorted()[repeats / 2]
}

var dataPath = "", configsPath = "bench/model_configs.json"
var epochs = 10, batch = 64, threads = 1, batchRepeats = 5, trainOnly = false
var it = CommandLine.arguments.dropFirst().makeIterator()
while let a = it.next() {
    switch a {
    case "--data": dataPath = it.next()!
    case "--configs": configsPath = it.next()!
    case "--epochs": epochs = Int(it.next()!)!
    case "--batch": batch = Int(it.next()!)!
    case "--threads": threads = Int(it.next()!)!
    case "--batch-repeats": batchRepeats = Int(it.next()!)!   // more batch-4096 samples (for profiling)
    case "--train-only": trainOnly = true                       // training time only (for profiling)
    default: fatalError("unknown argument \(a)")
    }
}
BLAS.setThreads(threads)
let train = try SafeTensorsFile.read(contentsOf: dataPath).floatTensor("train")
let configs = try JSONValue.parse([UInt8](Data(contentsOf: URL(fileURLWithPath: configsPath)))).objectValue!

for (name, conf) in configs {
    var rng = RandomGenerator(seed: 1)
    let model = try ModelFactory.make(ModelSpec(name: name, conf: conf.objectValue!), using: &rng)
    let ds = try StreamingDataset(train, seqLen: model.seqLen)
    let t0 = now()
    let summary = try AutoencoderTrainer(config: TrainerConfig(maxEpochs: epochs, batchSize: batch)).fit(model, train: ds)
    let trainSeconds = now() - t0
    if trainOnly {
        print("{\"bench\": \"model\", \"model\": \"\(name)\", \"train_seconds\": \(trainSeconds), \"final_train_loss\": \(summary.finalTrainLoss)}")
        continue
    }
    let one = ds.batch([0])
    let single = median(iterations: name.contains("Transformer") ? 500 : 5000) { _ = model.reconstructionErrors(one) }
    let big = ds.batch((0..<4096).map { $0 % ds.count })
    let perBatch = median(repeats: batchRepeats, iterations: name == "TransformerAE" ? 1 : 3) { _ = model.reconstructionErrors(big) }
    let plan = try InferenceCompiler.compile(model)
    let scratch = InferenceScratch()
    var reconstruction = [Float](repeating: 0, count: big.shape.elementCount), errors = reconstruction
    func planErrors(_ x: Tensor) {
        let n = x.shape.elementCount
        x.withUnsafeBufferPointer { xp in
            reconstruction.withUnsafeMutableBufferPointer { rp in
                plan.reconstruct(xp.baseAddress!, batch: x.shape[0], into: rp.baseAddress!, scratch: scratch)
                errors.withUnsafeMutableBufferPointer { model.elementwiseErrors(xp.baseAddress!, rp.baseAddress!, into: $0.baseAddress!, count: n) }
            }
        }
    }
    let singlePlan = median(iterations: name.contains("Transformer") ? 2000 : 50_000) { planErrors(one) }
    let perBatchPlan = median(repeats: batchRepeats, iterations: name.contains("Transformer") ? 1 : 3) { planErrors(big) }
    // A model per key, as the daemon scores a batch with one window per key: 256 keys' pipelines of this
    // architecture (own weights, own StandardScaler statistics), one window each — one forward call per key vs
    // the stacked pass (ScoringPipeline.forward(stacked:)), per window.
    let keys = 256
    var pipelines: [ScoringPipeline] = []
    for k in 0..<keys {
        var keyRng = RandomGenerator(seed: UInt64(100 + k))
        let m = try ModelFactory.make(ModelSpec(name: name, conf: conf.objectValue!), using: &keyRng)
        var scaler = StandardScaler()
        try scaler.fit(Tensor.uniform([50, m.nFeatures], low: Float(-1 - k % 5), high: Float(1 + k % 7), using: &keyRng))
        var threshold = StdDevThreshold()
        try threshold.fit(Tensor.uniform([20, m.nFeatures], low: 0.1, high: 1, using: &keyRng))
        pipelines.append(try ScoringPipeline(model: m, preprocess: [scaler], threshold: threshold, postprocess: nil, score: ScoreConfig(),
                                             metrics: (0..<m.nFeatures).map { "m\($0)" }, stats: ScoreStats()))
    }
    let windows = ds.batch((0..<keys).map { $0 % ds.count })
    let perKeyWindows = (0..<keys).map { windows.slice(axis: 0, $0..<($0 + 1)) }
    let rounds = name.contains("Transformer") ? 2 : 50
    let perKeyCalls = median(iterations: rounds) { for j in 0..<keys { _ = pipelines[j].forward(perKeyWindows[j], scratch: scratch) } } / Double(keys)
    let stacked = median(iterations: rounds) { _ = ScoringPipeline.forward(stacked: pipelines, windows, scratch: scratch) } / Double(keys)
    let fields: [(String, String)] = [
        ("bench", "\"model\""), ("model", "\"\(name)\""), ("windows", "\(ds.count)"), ("epochs", "\(epochs)"),
        ("batch", "\(batch)"), ("threads", "\(threads)"), ("train_seconds", "\(trainSeconds)"),
        ("final_train_loss", "\(summary.finalTrainLoss)"), ("single_window_us", "\(single * 1e6)"),
        ("batch4096_windows_per_s", "\(4096 / perBatch)"), ("single_window_plan_us", "\(singlePlan * 1e6)"),
        ("batch4096_plan_windows_per_s", "\(4096 / perBatchPlan)"),
        ("per_key_call_us", "\(perKeyCalls * 1e6)"), ("stacked_per_key_us", "\(stacked * 1e6)"),
    ]
    print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
}
