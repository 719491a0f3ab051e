//! `tokex index …` (owned by the index engine work).

#[derive(clap::Args)]
pub struct IndexArgs {}

pub fn run(_args: IndexArgs) -> Result<(), String> {
    Err("not yet available".into())
}
