//! `inversion-demo`: priority-inversion demo workload (see
//! `scx_proxy_tools::demo` for the design).

use clap::Parser;
use scx_proxy_tools::demo::cli::{Cli, Command};
use scx_proxy_tools::demo::{roles, runner};

fn main() {
    let cli = Cli::parse();
    let r = match &cli.command {
        Command::Run(a) => runner::run_command(a),
        Command::Compare(a) => runner::compare_command(a).map(|table| print!("{table}")),
        Command::Role(a) => roles::run_role(a),
    };
    if let Err(e) = r {
        let prefix = match cli.command {
            Command::Role(a) => format!("inversion-demo role {:?}", a.kind),
            _ => "inversion-demo".to_string(),
        };
        eprintln!("{prefix}: error: {e:#}");
        std::process::exit(1);
    }
}
