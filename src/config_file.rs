//! The optional configuration file: the same settings as the environment variables, one
//! `NAME=value` per line, so that a deployment can keep them in one reviewed file.
//!
//! It is deliberately the environment's own vocabulary rather than a second format: every
//! setting already has exactly one variable, documented in `--help` and docs/configuration.md,
//! and one set of parsers and validations. The file's values become the flags' defaults
//! ([`ConfigFile::apply_defaults`]) before the command line is parsed, once: a flag wins over
//! the environment, the environment over the file, the file over the built-in default. The
//! process environment itself is never changed.
//!
//! ```text
//! # gateway.env
//! HEYMARKET_LISTEN=0.0.0.0:8080
//! HEYMARKET_UPSTREAM_RATE_LIMIT=480/min
//! REDIS_URL="redis://redis:6379"
//! ```

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::builder::Resettable;
use clap::error::{ContextKind, ContextValue};
use clap::{Arg, Command, CommandFactory};

use crate::cli::Cli;

/// The flag that names the file (`--config FILE`).
pub const CONFIG_FLAG: &str = "config";
/// The environment variable that names the file when the flag does not.
pub const CONFIG_VARIABLE: &str = "HEYMARKET_CONFIG";
/// The log filter, which the file may set besides the flags' variables: no flag reads it, so
/// the file's value reaches the telemetry set-up through [`ConfigFile::get`].
pub const LOG_FILTER_VARIABLE: &str = "RUST_LOG";

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
    #[error("{path}:{line}: {name}: {reason}")]
    Invalid {
        path: String,
        line: usize,
        name: String,
        reason: String,
    },
}

/// A configuration file's settings, checked: each name is a variable of the command line (or
/// [`LOG_FILTER_VARIABLE`]), and each value one that its flag takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// Each variable's value, in the order of the file.
    settings: Vec<(String, String)>,
}

impl ConfigFile {
    /// The file named on `args` (the process's command line, program name first) by
    /// `--config`, or else by `HEYMARKET_CONFIG`, read and checked; `None` when neither names
    /// one.
    pub fn named_by(args: &[OsString]) -> Result<Option<Self>, ConfigFileError> {
        location(args).map(|path| Self::read(&path)).transpose()
    }

    /// The settings in the file at `path`.
    pub fn read(path: &Path) -> Result<Self, ConfigFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&shown, &text)
    }

    /// The settings in `text`, read from the file shown as `path` in errors.
    pub fn parse(path: &str, text: &str) -> Result<Self, ConfigFileError> {
        let command = Cli::command();
        let arguments = arguments_by_variable(&command);
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
            let (name, value) = (name.trim(), unquote(value.trim()));
            let error = |reason| ConfigFileError::Invalid {
                path: path.to_owned(),
                line: line_number,
                name: name.to_owned(),
                reason,
            };
            match arguments.get(name) {
                Some(argument) => check(argument, value).map_err(error)?,
                None if name == LOG_FILTER_VARIABLE => {}
                None => {
                    return Err(ConfigFileError::Unknown {
                        path: path.to_owned(),
                        line: line_number,
                        name: name.to_owned(),
                    });
                }
            }
            if settings.iter().any(|(seen, _)| seen == name) {
                return Err(ConfigFileError::Repeated {
                    path: path.to_owned(),
                    line: line_number,
                    name: name.to_owned(),
                });
            }
            settings.push((name.to_owned(), value.to_owned()));
        }
        Ok(Self { settings })
    }

    /// The file's value of the variable `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(setting, _)| setting == name)
            .map(|(_, value)| value.as_str())
    }

    /// `command` (and its subcommands) with the file's value of each flag's variable as that
    /// flag's default, so that the flag and then the environment still win over the file.
    /// `--help` shows those defaults, except the values of secret settings.
    pub fn apply_defaults(&self, command: Command) -> Command {
        let command = command.mut_args(|argument| {
            let Some(value) = variable(&argument).and_then(|name| self.get(name)) else {
                return argument;
            };
            let secret = argument.is_hide_env_values_set();
            let argument = argument.default_value(value.to_owned());
            if secret {
                argument.hide_default_value(true)
            } else {
                argument
            }
        });
        let subcommands: Vec<String> = command
            .get_subcommands()
            .map(|subcommand| subcommand.get_name().to_owned())
            .collect();
        subcommands.into_iter().fold(command, |command, name| {
            command.mut_subcommand(name, |subcommand| self.apply_defaults(subcommand))
        })
    }
}

/// Where the configuration file is. It is found before the command line is parsed, since its
/// settings become the flags' defaults: the value of `--config` (a global flag, so anywhere on
/// the line, as `--config FILE` or `--config=FILE`), else `HEYMARKET_CONFIG`. An empty value
/// names no file; the parse then refuses it as clap does.
fn location(args: &[OsString]) -> Option<PathBuf> {
    let flag = format!("--{CONFIG_FLAG}");
    let mut args = args.iter().skip(1);
    let mut found = None;
    while let Some(arg) = args.next() {
        if *arg == *"--" {
            break;
        }
        if *arg == *flag {
            found = args.next().cloned();
            break;
        }
        if let Some(path) = arg.to_str().and_then(|arg| arg.strip_prefix(&flag)) {
            if let Some(path) = path.strip_prefix('=') {
                found = Some(path.into());
                break;
            }
        }
    }
    found
        .or_else(|| std::env::var_os(CONFIG_VARIABLE))
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
}

/// The environment variable `argument` reads, if any.
fn variable(argument: &Arg) -> Option<&str> {
    argument.get_env().and_then(|name| name.to_str())
}

/// Every flag of `command` and its subcommands that reads an environment variable, by that
/// variable. Flags that share a variable (`HEYMARKET_LISTEN` of the default run and of `serve`)
/// are one definition, so the first stands for all.
fn arguments_by_variable(command: &Command) -> BTreeMap<String, Arg> {
    fn collect(command: &Command, into: &mut BTreeMap<String, Arg>) {
        for argument in command.get_arguments() {
            if let Some(name) = variable(argument) {
                into.entry(name.to_owned())
                    .or_insert_with(|| argument.clone());
            }
        }
        for subcommand in command.get_subcommands() {
            collect(subcommand, into);
        }
    }
    let mut arguments = BTreeMap::new();
    collect(command, &mut arguments);
    arguments
}

/// Whether `argument` takes `value` as its default, as it will take the file's value: parsed
/// by the argument's own parser (split at its delimiter, if it has one), on a command of that
/// argument alone. The reason is clap's message, naming the flag; a secret value is blanked.
fn check(argument: &Arg, value: &str) -> Result<(), String> {
    let alone = argument
        .clone()
        .env(None)
        .global(false)
        .required(false)
        .conflicts_with(Resettable::Reset)
        .default_value(value.to_owned());
    let Err(mut error) = Command::new("check")
        .no_binary_name(true)
        .arg(alone)
        .try_get_matches_from(Vec::<OsString>::new())
    else {
        return Ok(());
    };
    if argument.is_hide_env_values_set() {
        error.insert(
            ContextKind::InvalidValue,
            ContextValue::String("***".to_owned()),
        );
    }
    let message = error.render().to_string();
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    // Drop clap's closing hint to run `--help`, which names the throwaway command.
    let message = message.split("\n\n").next().unwrap_or(message);
    Err(message.trim_end().to_owned())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Vec<(String, String)>, String> {
        ConfigFile::parse("gateway.env", text)
            .map(|file| file.settings)
            .map_err(|error| error.to_string())
    }

    fn known_variables() -> Vec<String> {
        let mut known: Vec<String> = arguments_by_variable(&Cli::command()).into_keys().collect();
        known.push(LOG_FILTER_VARIABLE.to_owned());
        known
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
            "HEYMARKET_CONFIG",
            "REDIS_URL",
            "RUST_LOG",
        ] {
            assert!(known.iter().any(|known| known == name), "{name}");
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
            parsed("HEYMARKET_LISTEN=127.0.0.1:1\nHEYMARKET_LISTN=2\n"),
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
            parsed("REDIS_URL=redis://a\nREDIS_URL=redis://b\n"),
            Err("gateway.env:2: REDIS_URL is set twice".to_owned())
        );
    }

    #[test]
    fn a_bad_value_names_the_file_line_variable_and_flag() {
        let error = parsed("HEYMARKET_LISTEN=127.0.0.1:1\nHEYMARKET_UPSTREAM_RATE_LIMIT=fast\n")
            .unwrap_err();
        assert!(
            error.starts_with("gateway.env:2: HEYMARKET_UPSTREAM_RATE_LIMIT: invalid value 'fast'")
                && error.contains("--upstream-rate-limit")
                && error.contains("500/min")
                && !error.contains('\n'),
            "{error}"
        );
        // Also a value that only fails as one of its list's items, or against a range.
        let item = parsed("HEYMARKET_WEBHOOK_TOKENS=101:a,x:b\n").unwrap_err();
        assert!(
            item.starts_with("gateway.env:1: HEYMARKET_WEBHOOK_TOKENS:")
                && item.contains("--webhook-token"),
            "{item}"
        );
        let range = parsed("HEYMARKET_MAX_WEBSOCKETS=0\n").unwrap_err();
        assert!(range.contains("--max-websockets"), "{range}");
        let choice = parsed("HEYMARKET_LOG_FORMAT=loud\n").unwrap_err();
        assert!(
            choice.contains("--log-format") && choice.contains("json"),
            "{choice}"
        );
    }

    #[test]
    fn a_bad_secret_value_is_named_but_not_echoed() {
        let error = parsed("HEYMARKET_CLIENT_JWT_SECRET=short-s3cret\n").unwrap_err();
        assert!(
            error.contains("HEYMARKET_CLIENT_JWT_SECRET")
                && error.contains("--client-jwt-secret")
                && error.contains("at least 32 bytes")
                && !error.contains("s3cret"),
            "{error}"
        );
    }

    #[test]
    fn the_file_is_named_by_the_flag_anywhere_on_the_line() {
        let args = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
        for line in [
            &["heymarket-gateway", "--config", "a.env"][..],
            &[
                "heymarket-gateway",
                "serve",
                "--listen",
                "0.0.0.0:1",
                "--config",
                "a.env",
            ],
            &["heymarket-gateway", "serve", "--config=a.env"],
        ] {
            assert_eq!(
                location(&args(line)),
                Some(PathBuf::from("a.env")),
                "{line:?}"
            );
        }
        // Not after `--`, and not a flag merely starting with the name.
        for line in [
            &["heymarket-gateway", "--", "--config", "a.env"][..],
            &["heymarket-gateway", "--configuration=a.env"],
            &["heymarket-gateway", "--config="],
        ] {
            let found = location(&args(line));
            assert_eq!(
                found,
                std::env::var_os(CONFIG_VARIABLE)
                    .filter(|path| !path.is_empty())
                    .map(PathBuf::from),
                "{line:?}"
            );
        }
    }

    #[test]
    fn the_flag_and_variable_that_name_the_file_are_the_command_lines() {
        let command = Cli::command();
        let config = command
            .get_arguments()
            .find(|argument| argument.get_long() == Some(CONFIG_FLAG))
            .expect("a --config flag");
        assert_eq!(variable(config), Some(CONFIG_VARIABLE));
    }
}
