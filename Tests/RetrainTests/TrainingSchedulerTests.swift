import Retrain
import Stage
import Testing

/// The retrain stage's scheduling as plain values: each case is a sequence of events and the actions expected.
@Suite struct TrainingSchedulerTests {
    enum Event {
        case plan([TrainingScheduler.Candidate], expect: [TrainingScheduler.Action])
        case claimed(ModelID)
        case claimFailed(ModelID, SkipReason, expect: TrainingScheduler.Action?)
        case finished(ModelID)
        case running(Set<ModelID>)
    }

    static let a = ModelID(pipelineID: "p", key: ["a"]), b = ModelID(pipelineID: "p", key: ["b"]), c = ModelID(pipelineID: "p", key: ["c"])
    static let ghost = ModelID(pipelineID: "nope", key: ["x"])

    static func request(_ id: ModelID, rows: Int = 500, forced: Bool = false, bytes: Int = 100) -> TrainingScheduler.Candidate {
        .init(id: id, forced: forced, fromRequest: true, knownPipeline: id.pipelineID == "p", rows: rows, minRows: 200, estimatedBytes: bytes)
    }

    static func due(_ id: ModelID, bytes: Int = 100) -> TrainingScheduler.Candidate {
        .init(id: id, fromRequest: false, rows: 500, minRows: 200, estimatedBytes: bytes)
    }

    static let cases: [(String, TrainingScheduler.Limits, [Event])] = [
        ("a request with enough rows is claimed; its claim runs it; the slot frees when it ends",
         .init(concurrency: 1, memoryBudgetBytes: 1000),
         [.plan([request(a)], expect: [.claim(a, forced: false, fromRequest: true)]), .claimed(a), .running([a]),
          .plan([request(b)], expect: []), .finished(a), .running([]),
          .plan([request(b)], expect: [.claim(b, forced: false, fromRequest: true)])]),
        ("unknown pipelines and short histories are skipped and their requests dropped",
         .init(concurrency: 2, memoryBudgetBytes: 1000),
         [.plan([request(ghost), request(a, rows: 199), request(b, rows: 200)],
                expect: [.skip(ghost, .unknownPipeline, dropRequest: true), .skip(a, .insufficientData, dropRequest: true),
                         .claim(b, forced: false, fromRequest: true)])]),
        ("a duplicate request of a training under way is dropped; a forced one waits; a due scan leaves it alone",
         .init(concurrency: 3, memoryBudgetBytes: 1000),
         [.plan([request(a)], expect: [.claim(a, forced: false, fromRequest: true)]), .claimed(a),
          .plan([request(a), request(a, forced: true), due(a)], expect: [.skip(a, .inProgress, dropRequest: true)]),
          .finished(a), .plan([request(a, forced: true)], expect: [.claim(a, forced: true, fromRequest: true)])]),
        ("the history file's refusal releases the slot: a request is skipped with its reason, a forced one meeting another stage waits",
         .init(concurrency: 1, memoryBudgetBytes: 1000),
         [.plan([request(a)], expect: [.claim(a, forced: false, fromRequest: true)]),
          .claimFailed(a, .fresh, expect: .skip(a, .fresh, dropRequest: true)), .running([]),
          .plan([request(b, forced: true)], expect: [.claim(b, forced: true, fromRequest: true)]),
          .claimFailed(b, .inProgress, expect: nil), .running([]),
          .plan([due(c)], expect: [.claim(c, forced: false, fromRequest: false)]),
          .claimFailed(c, .retryBackoff, expect: .skip(c, .retryBackoff, dropRequest: false))]),
        ("memory: one training always runs; others start only while their estimates fit the budget",
         .init(concurrency: 3, memoryBudgetBytes: 1000),
         [.plan([due(a, bytes: 5000), due(b, bytes: 10)], expect: [.claim(a, forced: false, fromRequest: false)]), .claimed(a),
          .finished(a), .plan([due(b, bytes: 600), due(c, bytes: 600)], expect: [.claim(b, forced: false, fromRequest: false)]),
          .claimed(b), .finished(b), .plan([due(c, bytes: 400), due(a, bytes: 600)],
                                          expect: [.claim(c, forced: false, fromRequest: false), .claim(a, forced: false, fromRequest: false)])]),
        ("slots bound how many are claimed per round; the rest wait in the store",
         .init(concurrency: 2, memoryBudgetBytes: 1000),
         [.plan([due(a), due(b), due(c)], expect: [.claim(a, forced: false, fromRequest: false), .claim(b, forced: false, fromRequest: false)]),
          .running([a, b])]),
    ]

    @Test(arguments: cases.indices)
    func scheduling(_ index: Int) {
        let (name, limits, events) = Self.cases[index]
        var s = TrainingScheduler(limits: limits)
        for (step, event) in events.enumerated() {
            switch event {
            case .plan(let candidates, let expected):
                #expect(s.plan(candidates) == expected, "\(name), step \(step)")
            case .claimed(let id): s.claimed(id)
            case .claimFailed(let id, let reason, let expected):
                #expect(s.claimFailed(id, reason: reason) == expected, "\(name), step \(step)")
            case .finished(let id): s.finished(id)
            case .running(let ids): #expect(s.running == ids, "\(name), step \(step)")
            }
        }
    }
}
