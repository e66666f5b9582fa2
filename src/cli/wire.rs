//! `samba-entra-sync wire decode|encode [FILE]`: msbin1 (.NET binary XML) to XML text and back,
//! for looking at captures and hand-building requests.

use std::io::{Read, Write};
use std::path::PathBuf;

use super::{CliResult, Failure};
use crate::entra::nbfx;

#[derive(clap::Args, Debug)]
pub struct DecodeArgs {
    /// msbin1 file to decode (stdin when absent).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print the XML on one line, exactly as decoded, instead of indented.
    #[arg(long)]
    pub compact: bool,
}

#[derive(clap::Args, Debug)]
pub struct EncodeArgs {
    /// XML file to encode (stdin when absent). Indentation between elements is ignored.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

fn input_name(file: &Option<PathBuf>) -> String {
    file.as_ref().map_or_else(|| "standard input".to_owned(), |p| p.display().to_string())
}

fn read_input(file: &Option<PathBuf>) -> Result<Vec<u8>, Failure> {
    let mut data = Vec::new();
    let read = match file {
        Some(path) => std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut data)),
        None => std::io::stdin().lock().read_to_end(&mut data),
    };
    read.map_err(|e| Failure::usage(format!("cannot read {}: {e}", input_name(file))))?;
    Ok(data)
}

fn write_output(bytes: &[u8]) -> CliResult {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::runtime(format!("cannot write the output: {e}")))
}

/// msbin1 → XML on stdout.
pub fn decode(args: &DecodeArgs) -> CliResult {
    let data = read_input(&args.file)?;
    let root = nbfx::decode(&data)
        .map_err(|e| Failure::usage(format!("{} is not a valid msbin1 document: {e}", input_name(&args.file))))?;
    let mut xml = if args.compact { nbfx::to_xml(&root) } else { nbfx::to_xml_pretty(&root) };
    xml.push('\n');
    write_output(xml.as_bytes())
}

/// XML → msbin1 on stdout.
pub fn encode(args: &EncodeArgs) -> CliResult {
    let data = read_input(&args.file)?;
    let name = input_name(&args.file);
    let xml = std::str::from_utf8(&data).map_err(|_| Failure::usage(format!("{name} is not UTF-8 text")))?;
    let root =
        nbfx::from_xml_ignoring_layout(xml).map_err(|e| Failure::usage(format!("cannot read XML from {name}: {e}")))?;
    let bytes = nbfx::encode(&root).map_err(|e| Failure::usage(format!("cannot encode {name}: {e}")))?;
    write_output(&bytes)
}
