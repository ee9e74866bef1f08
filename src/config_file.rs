//! The optional configuration file: the same settings as the environment variables, one
//! `NAME=value` per line, so that a deployment can keep them in one reviewed file.
//!
//! It is deliberately the environment's own vocabulary rather than a second format: every
//! setting already has exactly one variable, documented in `--help` and docs/configuration.md,
//! and one set of parsers and validations. The file fills in what the environment does not
//! set; flags still win over both.
//!
//! ```text
//! # gateway.env
//! HEYMARKET_LISTEN=0.0.0.0:8080
//! HEYMARKET_UPSTREAM_RATE_LIMIT=480/min
//! REDIS_URL="redis://redis:6379"
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;

/// Variables a file may set besides the flags' own: the log filter.
const EXTRA_VARIABLES: &[&str] = &["RUST_LOG"];

/// Why a configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: expected NAME=value")]
    Syntax { path: String, line: usize },
    #[error("{path}:{line}: unknown setting {name} (see --help for every variable)")]
    Unknown {
        path: String,
        line: usize,
        name: String,
    },
    #[error("{path}:{line}: {name} is set twice")]
    Repeated {
        path: String,
        line: usize,
        name: String,
    },
}

/// The settings in the file at `path`, in order, checked against the variables the command line
/// knows.
pub fn read(path: &Path) -> Result<Vec<(String, String)>, ConfigFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&shown, &text, &known_variables())
}

/// Sets each of `settings` the environment does not already set.
///
/// # Safety
///
/// Changes the process environment: call it before any other thread exists (the async runtime
/// included), as `std::env::set_var` requires.
pub unsafe fn apply(settings: &[(String, String)]) {
    for (name, value) in settings {
        if std::env::var_os(name).is_none() {
            // SAFETY: the caller guarantees that no other thread runs yet.
            unsafe { std::env::set_var(name, value) };
        }
    }
}

fn parse(
    path: &str,
    text: &str,
    known: &BTreeSet<String>,
) -> Result<Vec<(String, String)>, ConfigFileError> {
    let mut settings: Vec<(String, String)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            return Err(ConfigFileError::Syntax {
                path: path.to_owned(),
                line: line_number,
            });
        };
        let name = name.trim();
        if !known.contains(name) {
            return Err(ConfigFileError::Unknown {
                path: path.to_owned(),
                line: line_number,
                name: name.to_owned(),
            });
        }
        if settings.iter().any(|(seen, _)| seen == name) {
            return Err(ConfigFileError::Repeated {
                path: path.to_owned(),
                line: line_number,
                name: name.to_owned(),
            });
        }
        settings.push((name.to_owned(), unquote(value.trim()).to_owned()));
    }
    Ok(settings)
}

/// A value without the one pair of matching quotes around it, if any.
fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// Every environment variable a flag of any subcommand reads.
fn known_variables() -> BTreeSet<String> {
    fn collect(command: &clap::Command, into: &mut BTreeSet<String>) {
        for argument in command.get_arguments() {
            if let Some(name) = argument.get_env().and_then(|name| name.to_str()) {
                into.insert(name.to_owned());
            }
        }
        for subcommand in command.get_subcommands() {
            collect(subcommand, into);
        }
    }
    let mut known: BTreeSet<String> = EXTRA_VARIABLES
        .iter()
        .map(|&name| name.to_owned())
        .collect();
    collect(&Cli::command(), &mut known);
    known
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Vec<(String, String)>, String> {
        parse("gateway.env", text, &known_variables()).map_err(|error| error.to_string())
    }

    #[test]
    fn every_flag_variable_is_known() {
        let known = known_variables();
        for name in [
            "HEYMARKET_LISTEN",
            "HEYMARKET_SECRET_KEY",
            "HEYMARKET_CORS_ALLOW_ORIGINS",
            "HEYMARKET_CLIENT_JWT_SECRET",
            "HEYMARKET_SANDBOX_SEED",
            "REDIS_URL",
            "RUST_LOG",
        ] {
            assert!(known.contains(name), "{name}");
        }
    }

    #[test]
    fn the_configuration_page_documents_every_variable() {
        let page = include_str!("../docs/configuration.md");
        for name in known_variables() {
            assert!(
                page.contains(&format!("`{name}`")),
                "{name} is missing from docs/configuration.md's table"
            );
        }
    }

    #[test]
    fn lines_are_names_and_values_with_comments_quotes_and_export() {
        let settings = parsed(
            "# a comment\n\nHEYMARKET_LISTEN=0.0.0.0:8080\nexport REDIS_URL=\"redis://r:6379\"\n\
             HEYMARKET_CORS_ALLOW_ORIGINS = 'https://a.example,https://b.example'\n\
             RUST_LOG=info,heymarket_gateway=debug\n",
        )
        .unwrap();
        assert_eq!(
            settings,
            [
                ("HEYMARKET_LISTEN", "0.0.0.0:8080"),
                ("REDIS_URL", "redis://r:6379"),
                (
                    "HEYMARKET_CORS_ALLOW_ORIGINS",
                    "https://a.example,https://b.example"
                ),
                ("RUST_LOG", "info,heymarket_gateway=debug"),
            ]
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
        );
    }

    #[test]
    fn mistakes_name_the_file_and_line() {
        assert_eq!(
            parsed("HEYMARKET_LISTEN=1\nHEYMARKET_LISTN=2\n"),
            Err(
                "gateway.env:2: unknown setting HEYMARKET_LISTN (see --help for every variable)"
                    .to_owned()
            )
        );
        assert_eq!(
            parsed("\n\njust words\n"),
            Err("gateway.env:3: expected NAME=value".to_owned())
        );
        assert_eq!(
            parsed("REDIS_URL=a\nREDIS_URL=b\n"),
            Err("gateway.env:2: REDIS_URL is set twice".to_owned())
        );
    }
}
