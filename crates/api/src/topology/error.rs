//! What is wrong with a topology: a file that cannot be read or parsed,
//! or a field whose value cannot be taken, named with where it is.

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{at}: {field}: {problem}")]
    Invalid {
        at: String,
        field: String,
        problem: String,
    },
}

pub(crate) fn invalid(
    at: impl Into<String>,
    field: impl Into<String>,
    problem: impl Into<String>,
) -> TopologyError {
    TopologyError::Invalid {
        at: at.into(),
        field: field.into(),
        problem: problem.into(),
    }
}
