package org.carevisor.protocol;

/**
 * Error body of every failed agent call.
 *
 * @param status HTTP status
 * @param code   stable error code, e.g. {@code vm-not-found}
 * @param detail what went wrong, for a person
 */
public record AgentProblem(int status, String code, String detail) {
}
