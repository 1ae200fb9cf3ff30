//! The ILO's 11 indicators of forced labour, each observed (or not) at some stage of the
//! worker's path, with the evidence that a prosecutor will read.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::validate::{choice, is_empty, join, object_value, Choice, ErrorCode, Errors, Obj, Rule};

/// Longest evidence note per indicator, in characters.
pub const MAX_EVIDENCE_CHARS: usize = 2000;

choice! {
    /// One of the ILO's 11 indicators of forced labour.
    pub enum Indicator {
        AbuseOfVulnerability = "abuse_of_vulnerability",
        Deception = "deception",
        RestrictionOfMovement = "restriction_of_movement",
        Isolation = "isolation",
        PhysicalAndSexualViolence = "physical_and_sexual_violence",
        IntimidationAndThreats = "intimidation_and_threats",
        RetentionOfIdentityDocuments = "retention_of_identity_documents",
        WithholdingOfWages = "withholding_of_wages",
        DebtBondage = "debt_bondage",
        AbusiveWorkingAndLivingConditions = "abusive_working_and_living_conditions",
        ExcessiveOvertime = "excessive_overtime",
    }
}

choice! {
    /// When in the worker's path an indicator was seen.
    pub enum Stage {
        Recruitment = "recruitment",
        DuringWork = "during_work",
        WhenTryingToLeave = "when_trying_to_leave",
    }
}

/// What the team recorded about one indicator.
#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct Observation {
    pub seen: bool,
    #[serde(skip_serializing_if = "is_empty")]
    pub stages: Vec<Stage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// The observations, by indicator; an indicator never touched is simply absent.
pub type Indicators = BTreeMap<Indicator, Observation>;

/// Parses `indicators` (an object keyed by indicator name). Unknown keys are refused: the 11
/// indicators are fixed by the ILO, and a misspelt key would silently lose evidence.
pub(crate) fn parse_indicators(
    map: &Map<String, Value>,
    path: &str,
    errs: &mut Errors,
) -> Indicators {
    let mut out = Indicators::new();
    for (key, value) in map {
        let at = join(path, key);
        let Some(indicator) = Indicator::from_name(key) else {
            errs.push(
                at,
                ErrorCode::NotInList {
                    allowed: Indicator::NAMES,
                },
            );
            continue;
        };
        if value.is_null() {
            continue;
        }
        let Some(obj) = object_value(value, &at, errs) else {
            continue;
        };
        let o = Obj::new(obj, &at);
        let observation = Observation {
            seen: o.boolean("seen", errs).unwrap_or(false),
            stages: o.choices("stages", errs),
            evidence: o.text("evidence", MAX_EVIDENCE_CHARS, errs),
        };
        out.insert(indicator, observation);
    }
    out
}

/// What a submitted record needs of each indicator: a seen indicator says when and on what
/// evidence (a bare tick proves nothing in court); one not seen carries no details.
pub(crate) fn submission_rules(indicators: &Indicators, path: &str, errs: &mut Errors) {
    for (indicator, obs) in indicators {
        let at = join(path, indicator.name());
        if obs.seen {
            if obs.stages.is_empty() {
                errs.push(join(&at, "stages"), ErrorCode::Required);
            }
            if obs.evidence.is_none() {
                errs.push(join(&at, "evidence"), ErrorCode::Required);
            }
        } else if !obs.stages.is_empty() || obs.evidence.is_some() {
            errs.push(
                join(&at, "seen"),
                ErrorCode::Inconsistent {
                    rule: Rule::NotSeenButDetailed,
                },
            );
        }
    }
}

/// Whether any indicator is marked as seen.
pub fn any_seen(indicators: &Indicators) -> bool {
    indicators.values().any(|o| o.seen)
}
