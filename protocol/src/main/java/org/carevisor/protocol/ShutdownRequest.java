package org.carevisor.protocol;

/**
 * Asks an agent to shut a VM down: ACPI power button first, power-off when the guest has not stopped
 * after {@code timeoutSeconds}; 0 powers off at once.
 */
public record ShutdownRequest(int timeoutSeconds) {
}
