//! TODO

use super::ParseOptions;
use crate::alert::Alert;
use crate::reject::Reject;

/// Parses one record.
///
/// # Errors
/// Always, for now.
pub fn parse(_record: &[u8], _options: &ParseOptions) -> Result<Alert, Reject> {
    Err(Reject::syntax("not implemented"))
}
