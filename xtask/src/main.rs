fn main() { eprintln!("xtask: no tasks yet (run-ablations lands with the ablation issue)"); std::process::exit(2); }
