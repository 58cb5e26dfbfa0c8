//! The playbook object (CACAO 3).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    AgentTarget, AuthenticationInfo, DataMarking, ExtensionDefinition, Extensions, ExternalReference, Extra, Signature,
    Variables, WorkflowStep,
};

/// `playbook-processing-summary` (CACAO 10.14).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PlaybookProcessingSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_playbook: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_playbooks: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_processing: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_logic: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub while_logic: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_logic: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporal_logic: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_markings: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digital_signatures: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countersigned_signatures: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A CACAO 2.0 playbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Playbook {
    /// Always `"playbook"` in a valid document.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always `"cacao-2.0"` in a valid document.
    pub spec_version: String,
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_activities: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_processing_summary: Option<PlaybookProcessingSummary>,
    pub created_by: String,
    pub created: String,
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived_from: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_to: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry_sectors: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_references: Option<Vec<ExternalReference>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markings: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_variables: Option<Variables>,
    pub workflow_start: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_exception: Option<String>,
    pub workflow: BTreeMap<String, WorkflowStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_extensions: Option<Extensions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_info_definitions: Option<BTreeMap<String, AuthenticationInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_definitions: Option<BTreeMap<String, AgentTarget>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_definitions: Option<BTreeMap<String, AgentTarget>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_definitions: Option<BTreeMap<String, ExtensionDefinition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_marking_definitions: Option<BTreeMap<String, DataMarking>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatures: Option<Vec<Signature>>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Playbook {
    /// The step with this id.
    #[must_use]
    pub fn step(&self, id: &str) -> Option<&WorkflowStep> {
        self.workflow.get(id)
    }

    /// The agent or target with this id (agents first).
    #[must_use]
    pub fn agent_or_target(&self, id: &str) -> Option<&AgentTarget> {
        self.agent_definitions
            .as_ref()
            .and_then(|m| m.get(id))
            .or_else(|| self.target_definitions.as_ref().and_then(|m| m.get(id)))
    }

    /// The authentication information with this id.
    #[must_use]
    pub fn authentication_info(&self, id: &str) -> Option<&AuthenticationInfo> {
        self.authentication_info_definitions.as_ref().and_then(|m| m.get(id))
    }
}
