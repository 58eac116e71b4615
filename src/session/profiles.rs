//! Saved mappings: a sheet's columns, their targets and transforms, and the import's options,
//! kept by name in the config folder and offered again when a sheet's headers fit.

pub use crate::profile::{
    Fit, Profile, ProfileColumn, ProfileError, ProfileOptions, Saved, config_dir, delete, list,
    load, path_for, profiles_dir, save,
};
