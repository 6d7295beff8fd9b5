//! A run's life: the states a stored run can be in and the moves between
//! them, in one table. The store refuses a move this table does not allow.

/// Where a run is in its life: stored and waiting for its evaluation
/// (`received`), in the evidence (`evaluated`), or kept out of it because
/// no feature of the policy selects it (`rejected`, with the reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    Received,
    Evaluated,
    Rejected,
}

impl RunState {
    /// Every state.
    pub const ALL: [RunState; 3] = [RunState::Received, RunState::Evaluated, RunState::Rejected];

    /// The state a run is stored in: `rejected` when the policy gives a
    /// reason no feature selects it, else `received`, to be evaluated.
    pub fn on_arrival(rejection: Option<&str>) -> RunState {
        if rejection.is_some() { RunState::Rejected } else { RunState::Received }
    }

    /// Whether a stored run may move from `self` to `next`:
    /// - `received` → `evaluated`, once an evaluation includes it (right
    ///   after it is stored, or at the next start if the server stopped
    ///   first);
    /// - `rejected` → `evaluated`, when a changed policy selects it at start.
    ///
    /// Nothing leaves `evaluated`: evidence is never taken back.
    pub fn may_become(self, next: RunState) -> bool {
        matches!((self, next), (RunState::Received | RunState::Rejected, RunState::Evaluated))
    }

    /// The state as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Received => "received",
            RunState::Evaluated => "evaluated",
            RunState::Rejected => "rejected",
        }
    }

    /// A stored state back; `None` for a name no version of tierwatch wrote.
    pub fn parse(stored: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|s| s.as_str() == stored)
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::RunState::{self, *};

    #[test]
    fn only_the_moves_into_the_evidence_are_allowed() {
        let allowed: Vec<(RunState, RunState)> = RunState::ALL
            .into_iter()
            .flat_map(|a| RunState::ALL.into_iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.may_become(*b))
            .collect();
        assert_eq!(allowed, [(Received, Evaluated), (Rejected, Evaluated)]);
        assert_eq!(RunState::on_arrival(None), Received);
        assert_eq!(RunState::on_arrival(Some("no feature selects it")), Rejected);
    }

    #[test]
    fn stored_names_round_trip_and_unknown_ones_are_refused() {
        for s in RunState::ALL {
            assert_eq!(RunState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::Value::String(s.as_str().into())));
        }
        assert_eq!(RunState::parse("done"), None);
    }
}
