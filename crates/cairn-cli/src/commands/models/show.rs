use super::Context;
use crate::CmdResult;
use crate::cli::ModelsShowArgs;
use crate::error::Exit;
use crate::printer::plural;

pub fn run(ctx: &Context<'_>, args: ModelsShowArgs) -> CmdResult {
    let ModelsShowArgs { reference } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let outcome = cairn_registry::show(&project, &reference)?;
    // The model's last drift check recorded on this machine (of any of its versions).
    let drift = cairn_pipeline::DriftResult::last_of(&project, &outcome.name);
    /// The `models-show` document: the registry's, and the last drift check.
    #[derive(serde::Serialize)]
    struct ShowDoc<'a> {
        #[serde(flatten)]
        show: &'a cairn_registry::ModelShow,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_drift: Option<&'a cairn_pipeline::DriftResult>,
    }
    p.json(
        "models-show",
        &ShowDoc {
            show: &outcome,
            last_drift: drift.as_ref(),
        },
    )?;
    for (i, v) in outcome.versions.iter().enumerate() {
        if i > 0 {
            p.line("")?;
        }
        super::version_block(p, &outcome.name, &v.entry, &v.aliases)?;
    }
    if let Some(d) = &drift {
        p.line("")?;
        p.line(format!(
            "last drift check: {}@{}: {} (record {}, current: {})",
            outcome.name,
            d.version,
            d.summary(),
            &d.record[..12.min(d.record.len())],
            d.current
        ))?;
    }
    if outcome.reference.is_none() {
        p.status(format!(
            "{}: {}",
            outcome.name,
            plural(outcome.versions.len() as u64, "version", "versions")
        ));
    }
    Ok(Exit::Ok)
}
