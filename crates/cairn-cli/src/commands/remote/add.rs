use cairn_core::RemoteConfig;

use super::Context;
use crate::CmdResult;
use crate::cli::RemoteAddArgs;
use crate::error::Exit;

pub fn run(ctx: &Context<'_>, args: RemoteAddArgs) -> CmdResult {
    let RemoteAddArgs {
        name,
        url,
        default,
        endpoint,
        region,
        allow_http,
        path_style,
        jobs,
    } = args;
    let project = ctx.project()?;
    let remote = RemoteConfig {
        url,
        endpoint,
        region,
        allow_http: allow_http.then_some(true),
        virtual_hosted_style: path_style.then_some(false),
        jobs: jobs.map(std::num::NonZeroUsize::get),
    };
    let is_default = project.add_remote(&name, &remote, default)?;
    let p = ctx.printer;
    /// The JSON outcome of `remote add`.
    #[derive(serde::Serialize)]
    struct Added<'a> {
        name: &'a str,
        url: &'a str,
        default: bool,
    }
    p.json(
        "remote-add",
        &Added {
            name: &name,
            url: &remote.url,
            default: is_default,
        },
    )?;
    let suffix = if is_default { " (default)" } else { "" };
    p.line(format!("added remote {name}: {}{suffix}", remote.url))?;
    p.status(
        "hint: credentials go in the environment or in .cairn/config.toml, never in cairn.toml",
    );
    Ok(Exit::Ok)
}
