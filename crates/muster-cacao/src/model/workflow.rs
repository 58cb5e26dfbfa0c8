//! Workflow steps (CACAO 4).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CommandData, Extensions, ExternalReference, Extra, Variables};

/// Properties common to every workflow step (CACAO 4.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StepCommon {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_references: Option<Vec<ExternalReference>>,
    /// Milliseconds to wait before the step starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u64>,
    /// Milliseconds the step may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_variables: Option<Variables>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_completion: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_extensions: Option<Extensions>,
}

/// `start` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StartStep {
    #[serde(flatten)]
    pub common: StepCommon,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `end` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EndStep {
    #[serde(flatten)]
    pub common: StepCommon,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `action` step: commands run by one agent against zero or more targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ActionStep {
    #[serde(flatten)]
    pub common: StepCommon,
    /// Required by the specification; an empty list is reported by validation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandData>,
    /// Required by the specification; absence is reported by validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_args: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `playbook-action` step: runs another playbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PlaybookActionStep {
    #[serde(flatten)]
    pub common: StepCommon,
    pub playbook_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_args: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `parallel` step: every branch in `next_steps` runs concurrently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ParallelStep {
    #[serde(flatten)]
    pub common: StepCommon,
    pub next_steps: Vec<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `if-condition` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct IfConditionStep {
    #[serde(flatten)]
    pub common: StepCommon,
    pub condition: String,
    pub on_true: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_false: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `while-condition` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct WhileConditionStep {
    #[serde(flatten)]
    pub common: StepCommon,
    pub condition: String,
    pub on_true: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `switch-condition` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SwitchConditionStep {
    #[serde(flatten)]
    pub common: StepCommon,
    /// Required by the specification; a missing `switch` is reported by validation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub switch: String,
    pub cases: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A workflow step, tagged by its `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum WorkflowStep {
    Start(StartStep),
    End(EndStep),
    Action(ActionStep),
    PlaybookAction(PlaybookActionStep),
    Parallel(ParallelStep),
    IfCondition(IfConditionStep),
    WhileCondition(WhileConditionStep),
    SwitchCondition(SwitchConditionStep),
}

/// The eight workflow step types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepType {
    Start,
    End,
    Action,
    PlaybookAction,
    Parallel,
    IfCondition,
    WhileCondition,
    SwitchCondition,
}

impl StepType {
    /// The `type` value, which is also the identifier prefix of the step.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::End => "end",
            Self::Action => "action",
            Self::PlaybookAction => "playbook-action",
            Self::Parallel => "parallel",
            Self::IfCondition => "if-condition",
            Self::WhileCondition => "while-condition",
            Self::SwitchCondition => "switch-condition",
        }
    }

    /// Conditional steps choose a branch at run time; a loop through one is guarded.
    #[must_use]
    pub const fn is_conditional(self) -> bool {
        matches!(self, Self::IfCondition | Self::WhileCondition | Self::SwitchCondition)
    }
}

impl WorkflowStep {
    /// The step's type.
    #[must_use]
    pub const fn step_type(&self) -> StepType {
        match self {
            Self::Start(_) => StepType::Start,
            Self::End(_) => StepType::End,
            Self::Action(_) => StepType::Action,
            Self::PlaybookAction(_) => StepType::PlaybookAction,
            Self::Parallel(_) => StepType::Parallel,
            Self::IfCondition(_) => StepType::IfCondition,
            Self::WhileCondition(_) => StepType::WhileCondition,
            Self::SwitchCondition(_) => StepType::SwitchCondition,
        }
    }

    /// The properties every step has.
    #[must_use]
    pub const fn common(&self) -> &StepCommon {
        match self {
            Self::Start(s) => &s.common,
            Self::End(s) => &s.common,
            Self::Action(s) => &s.common,
            Self::PlaybookAction(s) => &s.common,
            Self::Parallel(s) => &s.common,
            Self::IfCondition(s) => &s.common,
            Self::WhileCondition(s) => &s.common,
            Self::SwitchCondition(s) => &s.common,
        }
    }

    /// Mutable access to the common properties.
    pub fn common_mut(&mut self) -> &mut StepCommon {
        match self {
            Self::Start(s) => &mut s.common,
            Self::End(s) => &mut s.common,
            Self::Action(s) => &mut s.common,
            Self::PlaybookAction(s) => &mut s.common,
            Self::Parallel(s) => &mut s.common,
            Self::IfCondition(s) => &mut s.common,
            Self::WhileCondition(s) => &mut s.common,
            Self::SwitchCondition(s) => &mut s.common,
        }
    }

    /// Branch heads this step opens (branches run until they reach an end step).
    #[must_use]
    pub fn branches(&self) -> Vec<(&'static str, &str)> {
        match self {
            Self::Parallel(s) => s.next_steps.iter().map(|n| ("next_steps", n.as_str())).collect(),
            Self::IfCondition(s) => {
                let mut v = vec![("on_true", s.on_true.as_str())];
                if let Some(f) = &s.on_false {
                    v.push(("on_false", f.as_str()));
                }
                v
            }
            Self::WhileCondition(s) => vec![("on_true", s.on_true.as_str())],
            Self::SwitchCondition(s) => s.cases.values().map(|n| ("cases", n.as_str())).collect(),
            _ => Vec::new(),
        }
    }

    /// Every outgoing reference: `(property, step id)`, flow edges then branch heads.
    #[must_use]
    pub fn successors(&self) -> Vec<(&'static str, &str)> {
        let c = self.common();
        let mut v = Vec::new();
        for (prop, target) in
            [("on_completion", &c.on_completion), ("on_success", &c.on_success), ("on_failure", &c.on_failure)]
        {
            if let Some(t) = target {
                v.push((prop, t.as_str()));
            }
        }
        v.extend(self.branches());
        v
    }
}
