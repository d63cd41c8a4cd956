// SPDX-License-Identifier: Apache-2.0
// core_blocks.so: the whole catalogue of this library on one line (OBS-style module file).
#include "core_blocks.hpp"

BLUEPRINT_PLUGIN("dev.blueprint.core", "1.0.0", blueprint::core::ApiTrigger,
                 blueprint::core::ReturnValue, blueprint::core::SetState,
                 blueprint::core::LogMessage, blueprint::core::ParseJson,
                 blueprint::core::AddToStateList, blueprint::core::ForEach,
                 blueprint::core::RunBlueprint, blueprint::core::Delay, blueprint::core::KvStorage,
                 blueprint::core::IfElse)
