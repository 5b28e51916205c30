//! The error that refuses a run before or instead of a verdict — a
//! configuration, an argument or a target that is not acceptable: exit code 2.

/// A configuration or target error: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A [`UsageError`] saying `message`, as an [`anyhow::Error`].
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::anyhow!(UsageError(message.into()))
}
