//! `elt init` embeds `project_template/` (include_dir), which cargo does not track by itself:
//! rebuild when anything in it changes.

fn main() {
    println!("cargo:rerun-if-changed=project_template");
}
