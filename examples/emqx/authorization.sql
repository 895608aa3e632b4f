SELECT permission, action, topic, retain FROM mqtt_acl WHERE username = ${username}
