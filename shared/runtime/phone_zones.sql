-- The phone-prefix zone table (shared/runtime/phone_zones.py; the tables: migration 0006).

-- name: stored_digest :scalar --
-- In the byte order Python sorts in, whatever the database's collation.
SELECT md5(coalesce(string_agg(p.prefix || '=' || array_to_string(g.zones, ' '), ';'
                               ORDER BY p.prefix COLLATE "C"), ''))
FROM phone_zone_prefix p JOIN zone_group g ON g.id = p.zone_group;

-- name: add_zone_groups :exec --
-- :zone_sets: zone sets, each space-separated ('' is the unknown set).
INSERT INTO zone_group (zones)
SELECT string_to_array(s, ' ') FROM unnest(:zone_sets::text[]) AS s
WHERE s <> ''
ON CONFLICT (zones) DO NOTHING;

-- name: clear_prefixes :exec --
DELETE FROM phone_zone_prefix;

-- name: insert_prefixes :exec --
INSERT INTO phone_zone_prefix (prefix, zone_group)
SELECT x.prefix, g.id
FROM unnest(:prefixes::text[], :zone_sets::text[]) AS x(prefix, zones)
JOIN zone_group g ON g.zones = coalesce(string_to_array(nullif(x.zones, ''), ' '), '{}');

-- name: rehome_unknown :exec --
-- Conversations the previous table could not place, now that this one may.
UPDATE conversation v SET zone_group = placed.zone_group
FROM (SELECT v2.id, contact_zone_group(NULL, k.phone) AS zone_group
      FROM conversation v2 JOIN contact k ON k.id = v2.contact_id
      WHERE v2.zone_group = (SELECT id FROM zone_group WHERE zones = '{}')
        AND k.timezone IS NULL) placed
WHERE v.id = placed.id AND placed.zone_group <> v.zone_group;
