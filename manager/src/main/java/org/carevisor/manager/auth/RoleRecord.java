package org.carevisor.manager.auth;

import java.util.Set;

/** A named set of privileges; built-in roles cannot be changed or deleted. */
public record RoleRecord(String id, String name, String description, boolean builtin, Set<Privilege> privileges) {
}
