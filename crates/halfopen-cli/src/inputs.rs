//! Which inputs to read: stdin named at most once, each file read once.
//!
//! stdin can be read only once, so naming it twice (`--firewall - --access -`) is a usage
//! error. The same file named twice (same device and inode, whatever the path: `fw.log`,
//! `./fw.log`, a link) is read once, at its first mention; the later mentions are listed as
//! [`Duplicate`]s so the caller can say so.

use std::io::Read;
use std::path::{Path, PathBuf};

use halfopen::{Analyzer, Source};

use crate::cli::{CliError, InputArgs};

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// What it is.
    pub kind: Source,
    /// Its path as given (`-` = stdin).
    pub path: PathBuf,
}

impl Input {
    /// Whether it is stdin.
    pub fn is_stdin(&self) -> bool {
        self.path.as_os_str() == "-"
    }
}

/// A file named again, and dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The dropped mention.
    pub dropped: Input,
    /// The mention that is read.
    pub kept: Input,
}

impl Duplicate {
    /// A sentence for the user.
    pub fn note(&self) -> String {
        let (d, k) = (&self.dropped, &self.kept);
        let as_kind = if d.kind == k.kind {
            String::new()
        } else {
            format!(", as given to {}", option_name(k.kind))
        };
        format!(
            "{} {} is the same file as {} {}: read once{as_kind}",
            option_name(d.kind),
            d.path.display(),
            option_name(k.kind),
            k.path.display(),
        )
    }
}

/// The inputs to read, in order, and the mentions dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Read these.
    pub inputs: Vec<Input>,
    /// Named again, not read again.
    pub duplicates: Vec<Duplicate>,
}

/// The option that names inputs of a kind.
pub fn option_name(kind: Source) -> &'static str {
    match kind {
        Source::Firewall => "--firewall",
        Source::Access => "--access",
        Source::ErrorLog => "--error-log",
        Source::Pcap => "--pcap",
        Source::Netstat => "--netstat",
    }
}

/// What makes two paths the same file.
#[cfg(unix)]
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_identity(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}

/// Every input once; a usage error when stdin is named twice.
pub fn distinct(args: &InputArgs) -> Result<Inputs, CliError> {
    let mut out = Inputs::default();
    let mut stdin: Option<Input> = None;
    let mut seen = Vec::new();
    for (kind, path) in args.all() {
        let input = Input {
            kind,
            path: path.to_path_buf(),
        };
        if input.is_stdin() {
            if let Some(first) = &stdin {
                return Err(CliError::Usage(format!(
                    "stdin (-) is named twice ({} - and {} -): it can be read only once; \
                     save one of them to a file",
                    option_name(first.kind),
                    option_name(kind)
                )));
            }
            stdin = Some(input.clone());
            out.inputs.push(input);
            continue;
        }
        // A file that cannot be examined is kept: opening it reports the problem.
        let Some(id) = file_identity(path) else {
            out.inputs.push(input);
            continue;
        };
        match seen.iter().find(|(known, _)| *known == id) {
            Some((_, kept)) => out.duplicates.push(Duplicate {
                dropped: input,
                kept: Input::clone(kept),
            }),
            None => {
                seen.push((id, input.clone()));
                out.inputs.push(input);
            }
        }
    }
    Ok(out)
}

/// The analyzer with every input added, and the mentions dropped as duplicates.
pub struct Loaded {
    /// Ready to `finish()`.
    pub analyzer: Analyzer,
    /// Files named twice and read once.
    pub duplicates: Vec<Duplicate>,
}

/// Opens every input once into an analyzer (with a progress bar for large inputs).
pub fn load(args: &InputArgs) -> Result<Loaded, CliError> {
    if args.firewall.is_empty() && args.pcap.is_empty() {
        return Err(CliError::Usage(
            "give at least one --firewall FILE or --pcap FILE".to_owned(),
        ));
    }
    let mut analyzer = Analyzer::new(args.options()?);
    let Inputs { inputs, duplicates } = distinct(args)?;
    let total: u64 = inputs
        .iter()
        .filter_map(|i| std::fs::metadata(&i.path).ok().map(|m| m.len()))
        .sum();
    let bar = crate::progress::bar(total);
    for input in inputs {
        let name = input.path.display().to_string();
        let (reader, mtime): (Box<dyn Read + Send>, _) = if input.is_stdin() {
            (Box::new(std::io::stdin()), None)
        } else {
            let f = std::fs::File::open(&input.path)
                .map_err(|e| CliError::Input(format!("{name}: cannot open: {e}")))?;
            let mtime = f
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .map(chrono::DateTime::<chrono::Utc>::from);
            (
                Box::new(crate::progress::Counting::new(f, bar.clone())),
                mtime,
            )
        };
        analyzer.add_reader(input.kind, &name, reader, mtime);
    }
    Ok(Loaded {
        analyzer,
        duplicates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(argv: &[&str]) -> InputArgs {
        let mut full = vec!["halfopen", "analyze"];
        full.extend_from_slice(argv);
        match crate::cli::Cli::parse_from(full).command {
            crate::cli::Command::Analyze(a) => a.input,
            crate::cli::Command::Watch(w) => w.input,
            crate::cli::Command::Merge(m) => m.input,
        }
    }

    #[test]
    fn stdin_twice_is_a_usage_error() {
        let e = distinct(&args(&["--firewall", "-", "--access", "-"])).unwrap_err();
        assert_eq!(e.exit_code(), crate::cli::EXIT_USAGE);
        assert!(e.to_string().contains("--firewall - and --access -"), "{e}");
        assert!(distinct(&args(&["--firewall", "-"])).is_ok());
    }

    #[test]
    fn one_file_through_two_paths_is_read_once() {
        let dir = std::env::temp_dir().join(format!("halfopen-inputs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("fw.log");
        std::fs::write(&a, b"x\n").unwrap();
        let other = dir.join(".").join("fw.log");
        let list = distinct(&args(&[
            "--firewall",
            a.to_str().unwrap(),
            "--firewall",
            other.to_str().unwrap(),
            "--access",
            "does-not-exist.log",
        ]))
        .unwrap();
        assert_eq!(list.inputs.len(), 2, "{list:?}");
        assert_eq!(list.duplicates.len(), 1);
        let note = list.duplicates[0].note();
        assert!(note.contains("is the same file as --firewall"), "{note}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
