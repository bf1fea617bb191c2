use super::Context;
use crate::CmdResult;
use crate::cli::RemoteListArgs;
use crate::error::Exit;
use crate::printer::{BOLD, paint};

pub fn run(ctx: &Context<'_>, args: RemoteListArgs) -> CmdResult {
    let RemoteListArgs {} = args;
    let project = ctx.project()?;
    let remotes = project.list_remotes();
    let p = ctx.printer;
    /// The JSON outcome of `remote list`.
    #[derive(serde::Serialize)]
    struct Listed<'a> {
        remotes: &'a [cairn_core::RemoteListing],
    }
    p.json("remote-list", &Listed { remotes: &remotes })?;
    for r in &remotes {
        let marker = if r.default {
            paint(BOLD, "* ")
        } else {
            "  ".to_string()
        };
        let mut extra = Vec::new();
        if let Some(e) = &r.config.endpoint {
            extra.push(format!("endpoint {e}"));
        }
        if let Some(region) = &r.config.region {
            extra.push(format!("region {region}"));
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!("  ({})", extra.join(", "))
        };
        p.line(format!("{marker}{}  {}{extra}", r.name, r.url))?;
    }
    if remotes.is_empty() {
        p.status("no remotes; `cairn remote add NAME URL` adds one");
    }
    Ok(Exit::Ok)
}
