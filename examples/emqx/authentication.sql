SELECT password_hash, '' AS salt, false AS is_superuser FROM nodes WHERE node_id = ${username} LIMIT 1
