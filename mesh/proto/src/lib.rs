//! The `havn.mesh.v1` gRPC API: messages, clients and servers generated from `proto/havn/mesh/v1`.
//! Clients in any other language generate theirs from the same files.

#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]

pub mod v1 {
    tonic::include_proto!("havn.mesh.v1");
}

/// The encoded file descriptor set, for gRPC server reflection (grpcurl).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("havn_mesh_v1_descriptor");
