/// The model loader's safety-net re-read of watched keys (inotify tells of changes at once; re-reading each key's
/// `LATEST` now and then catches what a watch missed), spread over its period: each tick re-reads its share of the
/// keys in turn, so every key is re-read once a period. Read all at once, every 30 s, 10,000 keys were 5,000 file
/// reads per worker in one go: a burst of milliseconds on the two cores the scoring workers share.
///
/// A value-type schedule (no clock, no threads): the loader asks it, tick by tick, which keys are due.
struct RecheckSchedule<ID: Hashable> {
    /// Seconds in which every key is re-read once.
    let period: Double
    private var round: [ID] = []
    private var roundStart = 0.0
    private var cursor = 0

    init(period: Double) {
        precondition(period > 0, "a re-read period must be positive")
        self.period = period
    }

    /// The keys due at `now`. A round starts from the keys watched at that tick (`watched`) and returns none; each
    /// later tick returns the keys up to the share of the round its time has reached, in order, skipping keys no
    /// longer watched (`isWatched`); keys watched since the round began wait for the next. After a stall (a tick more
    /// than a period after the round began) the rest of the round is due at once, never more than once.
    mutating func due(at now: Double, watched: () -> [ID], isWatched: (ID) -> Bool) -> [ID] {
        if cursor >= round.count {
            (round, cursor, roundStart) = (watched(), 0, now)
            return []
        }
        let share = (Double(round.count) * Swift.max(0, now - roundStart) / period).rounded(.up)
        let target = share >= Double(round.count) ? round.count : Int(share)
        var out: [ID] = []
        while cursor < target {
            let id = round[cursor]
            cursor += 1
            if isWatched(id) { out.append(id) }
        }
        return out
    }
}
