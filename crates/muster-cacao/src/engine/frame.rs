//! One playbook being run, and variable substitution into its definitions.

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use crate::model::{Playbook, Variables, WorkflowStep};
use crate::vars::{Scope, VarError};

/// One playbook being run (the top level or a nested one).
pub(super) struct Frame {
    pub(super) pb: Arc<Playbook>,
    pub(super) globals: Mutex<Variables>,
    pub(super) depth: u32,
}

impl Frame {
    pub(super) fn globals(&self) -> MutexGuard<'_, Variables> {
        // A poisoned lock only means another branch panicked; the map is still usable.
        self.globals.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn scope(&self, step: &WorkflowStep) -> Scope {
        let mut scope = Scope::new(self.globals().clone());
        scope.push(step.common().step_variables.clone().unwrap_or_default());
        scope
    }
}

/// Substitutes variables in every string inside an agent or target definition.
fn substitute_value(scope: &Scope, v: &mut Value) -> Result<(), VarError> {
    match v {
        Value::String(s) => *s = scope.substitute(s)?,
        Value::Array(items) => {
            for i in items {
                substitute_value(scope, i)?;
            }
        }
        Value::Object(m) => {
            for (_, i) in m.iter_mut() {
                substitute_value(scope, i)?;
            }
        }
        _ => {}
    }
    Ok(())
}

pub(super) fn substituted<T: serde::Serialize + serde::de::DeserializeOwned>(
    scope: &Scope,
    item: &T,
) -> Result<T, String> {
    let mut v = serde_json::to_value(item).map_err(|e| e.to_string())?;
    substitute_value(scope, &mut v).map_err(|e| e.to_string())?;
    serde_json::from_value(v).map_err(|e| e.to_string())
}
