//! Man pages from the command line's own definition (clap_mangen): one
//! page for `vepa` and one for each subcommand, named as git names its
//! own (`vepa-port-add.1`), so `man vepa-port-add` finds it.

use anyhow::{Context, Result};
use std::path::Path;

/// Writes the pages of `cmd` and of every subcommand under it into `dir`.
pub fn write(cmd: clap::Command, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("--dir: cannot make {}", dir.display()))?;
    // Subcommands' own `--help` and version come from the top command.
    // The release alone: a page does not change with every commit.
    let cmd = cmd
        .disable_help_subcommand(true)
        .version(env!("CARGO_PKG_VERSION"));
    page(&cmd, "vepa", "vepa", dir)
}

/// `name` titles the page (vepa-port-add), `words` is how it is typed.
fn page(cmd: &clap::Command, name: &str, words: &str, dir: &Path) -> Result<()> {
    let cmd = cmd
        .clone()
        .name(name.to_string())
        .bin_name(words.to_string());
    let path = dir.join(format!("{name}.1"));
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .date("")
        .render(&mut out)
        .with_context(|| format!("render {name}"))?;
    std::fs::write(&path, out).with_context(|| format!("write {}", path.display()))?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let n = sub.get_name();
        page(sub, &format!("{name}-{n}"), &format!("{words} {n}"), dir)?;
    }
    Ok(())
}
