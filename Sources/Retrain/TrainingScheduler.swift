import Stage

/// Which trainings the retrain stage starts, as a value-type state machine: it is given candidates (pending
/// requests first, then models the history says are due) and answers with actions; the stage carries them
/// out (the claim in the history file, the training threads) and reports back. No threads, no clock, no I/O:
/// every rule is testable as a sequence of events and the actions expected.
///
/// Rules, in order, for each candidate while a training slot is free:
/// * a pipeline the configuration does not have: skipped (`unknown_pipeline`), its request dropped;
/// * a model already training: a "retrain now" request waits for it (no action, the request stays); any other
///   request is a duplicate (`in_progress`, dropped); a due model is left alone;
/// * a request for a model with fewer than `min_train_size` rows: skipped (`insufficient_data`), dropped;
/// * a training whose estimated working memory does not fit the budget beside those running waits (one
///   always may run);
/// * otherwise: claim it (the history file applies numalogic's de-duplication rules atomically, across stages).
public struct TrainingScheduler: Sendable, Equatable {
    public struct Limits: Sendable, Equatable {
        public var concurrency: Int
        public var memoryBudgetBytes: Int
        public init(concurrency: Int, memoryBudgetBytes: Int) { (self.concurrency, self.memoryBudgetBytes) = (concurrency, memoryBudgetBytes) }
    }

    /// A model that could be trained now.
    public struct Candidate: Sendable, Equatable {
        public var id: ModelID
        /// "Retrain now" (HTTP or command line): ignores the model's age, never a training in progress.
        public var forced: Bool
        /// A pending request (decided once and cleared), not a model found due by a scan.
        public var fromRequest: Bool
        public var knownPipeline: Bool
        public var rows: Int
        public var minRows: Int
        public var estimatedBytes: Int

        public init(id: ModelID, forced: Bool = false, fromRequest: Bool, knownPipeline: Bool = true, rows: Int, minRows: Int,
                    estimatedBytes: Int) {
            (self.id, self.forced, self.fromRequest, self.knownPipeline) = (id, forced, fromRequest, knownPipeline)
            (self.rows, self.minRows, self.estimatedBytes) = (rows, minRows, estimatedBytes)
        }
    }

    public enum Action: Sendable, Equatable {
        /// Claim the model in the history file and, if the claim holds, train it (report with ``claimed(_:)`` or
        /// ``claimFailed(_:reason:)``).
        case claim(ModelID, forced: Bool, fromRequest: Bool)
        /// Not trained now, for `reason`; `dropRequest`: its pending request is decided and cleared.
        case skip(ModelID, SkipReason, dropRequest: Bool)
    }

    public let limits: Limits
    /// Trainings claimed or running, with their estimated working bytes.
    public private(set) var reserved: [ModelID: Int] = [:]
    private var pending: [ModelID: Candidate] = [:]

    public init(limits: Limits) { self.limits = limits }

    public var running: Set<ModelID> { Set(reserved.keys) }
    public var freeSlots: Int { Swift.max(0, limits.concurrency - reserved.count) }
    public var reservedBytes: Int { reserved.values.reduce(0, +) }

    /// One scheduling round over `candidates` (requests first, then due models, each in order).
    public mutating func plan(_ candidates: [Candidate]) -> [Action] {
        var actions: [Action] = []
        for c in candidates {
            guard freeSlots > 0 else { break }
            guard c.knownPipeline else {
                actions.append(.skip(c.id, .unknownPipeline, dropRequest: c.fromRequest))
                continue
            }
            if reserved[c.id] != nil {
                if c.fromRequest && !c.forced { actions.append(.skip(c.id, .inProgress, dropRequest: true)) }
                continue
            }
            if c.fromRequest && c.rows < c.minRows {
                actions.append(.skip(c.id, .insufficientData, dropRequest: true))
                continue
            }
            let inUse = reservedBytes
            if inUse > 0 && inUse + c.estimatedBytes > limits.memoryBudgetBytes { continue }
            reserved[c.id] = c.estimatedBytes
            pending[c.id] = c
            actions.append(.claim(c.id, forced: c.forced, fromRequest: c.fromRequest))
        }
        return actions
    }

    /// The claim held: the training runs.
    public mutating func claimed(_ id: ModelID) { pending[id] = nil }

    /// The history file refused the claim (numalogic's rules, or another stage): the reservation is released; a
    /// forced request that meets another stage's training stays pending, anything else is skipped.
    public mutating func claimFailed(_ id: ModelID, reason: SkipReason) -> Action? {
        reserved[id] = nil
        guard let c = pending.removeValue(forKey: id) else { return nil }
        if c.forced && reason == .inProgress { return nil }
        return .skip(id, reason, dropRequest: c.fromRequest)
    }

    /// A training ended (whatever its outcome): its slot and memory are free.
    public mutating func finished(_ id: ModelID) {
        reserved[id] = nil
        pending[id] = nil
    }
}
