DROP TABLE admin_password_resets;
ALTER TABLE admin_users DROP COLUMN notify_reports;
