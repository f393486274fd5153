//! The diesel schema, one for both backends (see the note below).

// One schema for both backends: ids are BIGINT (SQLite's INTEGER PRIMARY KEY is
// 64-bit), timestamps are Unix milliseconds.

diesel::table! {
    server_settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    sites (id) {
        id -> BigInt,
        public_key -> Text,
        secret -> Text,
        name -> Text,
        enabled -> Bool,
        is_demo -> Bool,
        guests_allowed -> Bool,
        registration_allowed -> Bool,
        verified_required -> Bool,
        room_policy -> Text,
        max_rooms -> Integer,
        max_message_chars -> Integer,
        created_at -> BigInt,
        room_scope -> Text,
        presence_lines -> Bool,
    }
}

diesel::table! {
    site_origins (site_id, origin) {
        site_id -> BigInt,
        origin -> Text,
    }
}

diesel::table! {
    rooms (id) {
        id -> BigInt,
        site_id -> BigInt,
        name -> Text,
        last_seq -> BigInt,
        slow_mode_secs -> Integer,
        locked -> Bool,
        approve_first -> Bool,
        max_message_chars -> Nullable<Integer>,
        created_at -> BigInt,
        visitor_created -> Bool,
        slow_mode_since -> BigInt,
    }
}

diesel::table! {
    participants (id) {
        id -> BigInt,
        site_id -> BigInt,
        kind -> Text,
        external_id -> Nullable<Text>,
        nick -> Text,
        last_ip -> Nullable<Text>,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        avatar_url -> Nullable<Text>,
        name_key -> Nullable<Text>,
        name_key_exact -> Nullable<Text>,
        name_key_upper -> Nullable<Text>,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        site_id -> BigInt,
        room_id -> BigInt,
        seq -> BigInt,
        participant_id -> BigInt,
        cid -> Nullable<Text>,
        body -> Text,
        ip -> Nullable<Text>,
        created_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    admin_users (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        created_at -> BigInt,
        last_login_at -> Nullable<BigInt>,
        notify_reports -> Bool,
    }
}

diesel::table! {
    admin_password_resets (id) {
        id -> BigInt,
        admin_user_id -> BigInt,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    admin_user_sites (admin_user_id, site_id) {
        admin_user_id -> BigInt,
        site_id -> BigInt,
    }
}

diesel::table! {
    bans (id) {
        id -> BigInt,
        site_id -> Nullable<BigInt>,
        participant_id -> Nullable<BigInt>,
        cidr -> Nullable<Text>,
        reason -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        admin_user_id -> Nullable<BigInt>,
        site_id -> Nullable<BigInt>,
        action -> Text,
        target_type -> Text,
        target_id -> Text,
        details -> Text,
        created_at -> BigInt,
        actor_label -> Nullable<Text>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        site_id -> BigInt,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        scope_read -> Bool,
        scope_publish -> Bool,
        scope_moderate -> Bool,
        created_by -> Nullable<BigInt>,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    accounts (id) {
        id -> BigInt,
        site_id -> BigInt,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        participant_id -> Nullable<BigInt>,
        verified_at -> Nullable<BigInt>,
        created_at -> BigInt,
        name_key -> Nullable<Text>,
        name_key_exact -> Nullable<Text>,
        name_key_upper -> Nullable<Text>,
    }
}

diesel::table! {
    account_tokens (id) {
        id -> BigInt,
        account_id -> BigInt,
        purpose -> Text,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(account_tokens -> accounts (account_id));
diesel::table! {
    admin_sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        admin_user_id -> BigInt,
        csrf_token -> Text,
        ip -> Nullable<Text>,
        created_at -> BigInt,
        last_seen_at -> BigInt,
    }
}

diesel::table! {
    participant_ips (participant_id, ip) {
        participant_id -> BigInt,
        ip -> Text,
        first_seen_at -> BigInt,
        last_seen_at -> BigInt,
    }
}

diesel::table! {
    mutes (id) {
        id -> BigInt,
        site_id -> BigInt,
        participant_id -> BigInt,
        reason -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    reports (id) {
        id -> BigInt,
        site_id -> BigInt,
        message_id -> BigInt,
        reporter_id -> BigInt,
        reason -> Text,
        created_at -> BigInt,
        resolved_at -> Nullable<BigInt>,
        resolved_by -> Nullable<BigInt>,
        resolution -> Nullable<Text>,
    }
}

diesel::table! {
    word_filters (id) {
        id -> BigInt,
        site_id -> BigInt,
        kind -> Text,
        pattern -> Text,
        action -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    held_messages (id) {
        id -> BigInt,
        site_id -> BigInt,
        room_id -> BigInt,
        participant_id -> BigInt,
        cid -> Text,
        body -> Text,
        ip -> Nullable<Text>,
        created_at -> BigInt,
        rejected_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(site_origins -> sites (site_id));
diesel::joinable!(rooms -> sites (site_id));
diesel::joinable!(participants -> sites (site_id));
diesel::joinable!(messages -> rooms (room_id));
diesel::joinable!(messages -> participants (participant_id));
diesel::joinable!(admin_user_sites -> admin_users (admin_user_id));
diesel::joinable!(admin_user_sites -> sites (site_id));
diesel::joinable!(admin_sessions -> admin_users (admin_user_id));
diesel::joinable!(admin_password_resets -> admin_users (admin_user_id));
diesel::joinable!(participant_ips -> participants (participant_id));
diesel::joinable!(reports -> messages (message_id));
diesel::joinable!(held_messages -> participants (participant_id));
diesel::joinable!(held_messages -> rooms (room_id));
diesel::joinable!(room_holds -> rooms (room_id));
diesel::joinable!(audit_log -> admin_users (admin_user_id));
diesel::joinable!(api_keys -> sites (site_id));

diesel::allow_tables_to_appear_in_same_query!(
    server_settings,
    sites,
    site_origins,
    rooms,
    participants,
    messages,
    admin_users,
    admin_user_sites,
    bans,
    audit_log,
    accounts,
    account_tokens,
    admin_sessions,
    admin_password_resets,
    participant_ips,
    mutes,
    reports,
    word_filters,
    held_messages,
    room_holds,
    api_keys,
);

diesel::table! {
    room_holds (room_id, instance) {
        room_id -> BigInt,
        instance -> BigInt,
        until -> BigInt,
    }
}

diesel::table! {
    cluster_events (id) {
        id -> BigInt,
        origin -> Nullable<BigInt>,
        body -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> BigInt,
        site_id -> BigInt,
        url -> Text,
        events -> Text,
        secret -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        event_id -> Text,
        event_type -> Text,
        room_id -> Nullable<BigInt>,
        body -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_attempt_at -> Nullable<BigInt>,
        last_status -> Nullable<Integer>,
        last_latency_ms -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(webhook_endpoints -> sites (site_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::allow_tables_to_appear_in_same_query!(webhook_endpoints, webhook_deliveries, sites);
