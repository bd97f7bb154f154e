package org.carevisor.manager.security;

/**
 * A host as enrolled: what its certificate and registration say it is, against which its reports are checked.
 *
 * @param id               host id (CN {@code host:<id>} of its certificate)
 * @param name             its name
 * @param endpoint         its endpoint as last taken in (the address part is fixed by its enrollment)
 * @param migrationAddress where it receives live migrations (null: not registered yet, a host enrolled before
 *                         version 8 of the schema)
 */
public record RegisteredHost(String id, String name, String endpoint, String migrationAddress) {
}
