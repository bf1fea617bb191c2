//! `cairn lineage NAME@REF [--format tree|mermaid|dot]`.

use super::Context;
use crate::CmdResult;
use crate::cli::{LineageArgs, LineageFormat};
use crate::error::Exit;

pub fn run(ctx: &Context<'_>, args: LineageArgs) -> CmdResult {
    let LineageArgs { reference, format } = args;
    let project = ctx.project()?;
    let p = ctx.printer;
    let lineage = cairn_pipeline::lineage(&project, &reference)?;
    p.json("lineage", &lineage)?;
    let text = match format {
        LineageFormat::Tree => lineage.tree(),
        LineageFormat::Mermaid => lineage.mermaid(),
        LineageFormat::Dot => lineage.dot(),
    };
    for line in text.lines() {
        p.line(line)?;
    }
    Ok(Exit::Ok)
}
