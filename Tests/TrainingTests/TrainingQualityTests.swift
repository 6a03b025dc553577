import Autoencoders
import NN
import Testing
import TestSupport
import TensorCore
import Training

/// Area under the ROC curve of `scores` for binary `labels` (rank statistic; ties count half).
func rocAUC(_ scores: [Float], _ labels: [Int]) -> Double {
    let pos = zip(scores, labels).filter { $0.1 == 1 }.map(\.0), neg = zip(scores, labels).filter { $0.1 == 0 }.map(\.0)
    var wins = 0.0
    for p in pos { for n in neg { wins += p > n ? 1 : (p == n ? 0.5 : 0) } }
    return wins / Double(pos.count * neg.count)
}

/// Each model trained natively on the series numalogic trained on (same data, standardisation, epochs,
/// batch size) reaches a reconstruction error comparable to numalogic's, and scores the injected
/// anomalies of the held-out part clearly above the normal points.
@Suite struct TrainingQualityTests {
    struct Case {
        let name: String
        let conf: JSONObject
        let numalogicError: Float
    }

    static func setup() throws -> (train: Tensor, test: Tensor, labels: [Int], epochs: Int, cases: [Case]) {
        let file = try Fixtures.load("training/synthetic")
        let config = try #require(file.jsonMetadata("config").objectValue)
        let results = try #require(config["results"]?.objectValue)
        let cases = try results.map { name, r in
            let o = try #require(r.objectValue)
            return Case(name: name, conf: try #require(o["conf"]?.objectValue),
                        numalogicError: Float(try #require(o["train_error_mean"]?.doubleValue)))
        }
        let labels = try file.floatTensor("labels").scalars.map { Int($0) }
        return (try file.floatTensor("train"), try file.floatTensor("test"), labels, Int(config["epochs"]!.intValue!), cases)
    }

    static let names = ModelFactory.names

    @Test(arguments: names)
    func trainsAsWellAsNumalogicAndFindsTheAnomalies(_ name: String) throws {
        let (train, test, labels, epochs, cases) = try Self.setup()
        let c = try #require(cases.first { $0.name == name })
        let mean = train.mean(alongAxes: [0]), std = train.variance(alongAxes: [0]).sqrt()
        let scaledTrain = (train - mean) / std, scaledTest = (test - mean) / std
        var rng = RandomGenerator(seed: 11)
        let model = try ModelFactory.make(ModelSpec(name: name, conf: c.conf), using: &rng)
        let ds = try StreamingDataset(scaledTrain, seqLen: model.seqLen)
        let trainer = AutoencoderTrainer(config: TrainerConfig(maxEpochs: epochs, batchSize: 64, seed: 5))
        try trainer.fit(model, train: ds)

        let ours = model.reconstructionErrors(ds.allWindows()).mean().scalar
        #expect(ours <= c.numalogicError * 1.25 + 0.02,
                "\(name): mean reconstruction error \(ours) vs numalogic's \(c.numalogicError)")

        // Score each test point as the newest point of its window, in units of its feature's training error.
        let featureScale = trainer.predict(model, ds).mean(alongAxes: [0])
        let perPoint = InverseWindow.keepLast(model.reconstructionErrors(try StreamingDataset(scaledTest, seqLen: model.seqLen).allWindows()))
        let scores = (perPoint / featureScale).max(alongAxes: [1]).scalars
        let usable = Array(labels.indices.dropFirst(model.seqLen - 1))
        // The AUC bar allows for labelled rows the injection barely moved (numalogic's rule scales each shift
        // by the point's own |scaled value|); the ratio bar is the "clearly above" requirement.
        let auc = rocAUC(usable.map { scores[$0] }, usable.map { labels[$0] })
        let anomalous = usable.filter { labels[$0] == 1 }.map { scores[$0] }, normal = usable.filter { labels[$0] == 0 }.map { scores[$0] }
        let ratio = (anomalous.reduce(0, +) / Float(anomalous.count)) / (normal.reduce(0, +) / Float(normal.count))
        #expect(auc > 0.85, "\(name): ROC AUC of anomaly scores \(auc)")
        #expect(ratio > 3, "\(name): anomalous points score \(ratio)× the normal ones")
        print("\(name): error \(ours) (numalogic \(c.numalogicError)), AUC \(auc), anomaly/normal \(ratio)")
    }
}
