//! Compiles `proto/` with protox (pure Rust), so no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "../../proto/watchkeeper/v1/alert.proto",
        "../../proto/watchkeeper/v1/ingest.proto",
        "../../proto/watchkeeper/v1/records.proto",
        "../../proto/watchkeeper/v1/console.proto",
        "../../proto/watchkeeper/v1/offices.proto",
        "../../proto/watchkeeper/v1/silences.proto",
        "../../proto/watchkeeper/v1/headcount.proto",
    ];
    let descriptors = protox::compile(files, ["../../proto"])?;
    let descriptor_path =
        std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("watchkeeper_descriptor.bin");
    std::fs::write(
        &descriptor_path,
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor_path)
        .skip_protoc_run()
        .compile_fds(descriptors)?;
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    Ok(())
}
