package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import org.carevisor.testkit.Lab;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.Alert;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The web console in a real headless Chromium: login (wrong password refused), create, watch, console, errors,
 * power off, logout (the data disappears, a reload stays logged out), login again, delete.
 */
class WebConsoleIT extends ApplianceLabTest {
    private WebDriver browser;

    @Override
    int guestPortFrom() {
        return 21900;
    }

    @BeforeAll
    void startBrowser(@TempDir Path profile) throws java.io.IOException {
        File chromium = new File("/usr/bin/chromium");
        File driver = new File("/usr/bin/chromedriver");
        assertThat(chromium).as("Debian's chromium (./carevisor test installs it)").exists();
        assertThat(driver).as("Debian's chromium-driver (./carevisor test installs it)").exists();
        ChromeOptions options = new ChromeOptions();
        options.setBinary(chromium);
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1400,1000", "--user-data-dir=" + profile,
                // trusts exactly the manager's current API key (checked against its CA by the test), like a browser
                // that imported the CA; every other certificate error still stops the page
                "--ignore-certificate-errors-spki-list=" + lab.apiSpkiPin());
        browser = new ChromeDriver(new ChromeDriverService.Builder().usingDriverExecutable(driver).build(), options);
    }

    @AfterAll
    void stopBrowser() {
        if (browser != null) {
            browser.quit();
        }
    }

    /** A wait that tolerates the page re-rendering its tables (every 2 s) under our feet. */
    private WebDriverWait waitUpTo(Duration d) {
        WebDriverWait wait = new WebDriverWait(browser, d, Duration.ofMillis(200));
        wait.ignoring(StaleElementReferenceException.class);
        return wait;
    }

    /** Text of a VM table cell, read in one step (null while the row does not exist). */
    private String cell(String vm, int column) {
        return (String) ((JavascriptExecutor) browser).executeScript(
                "const c = document.querySelector(arguments[0]); return c ? c.textContent : null;",
                "#vms tr[data-vm='" + vm + "'] td:nth-child(" + column + ")");
    }

    /** Saves what the browser shows to target/NAME (for a person reading a failed or passed run). */
    private void screenshot(String name) throws java.io.IOException {
        Path shot = Path.of("target", name);
        Files.createDirectories(shot.getParent());
        Files.copy(((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE).toPath(), shot,
                StandardCopyOption.REPLACE_EXISTING);
    }

    /** Text of a cell of one of the HA tables, the row found by its data attribute (null while absent). */
    private String haCell(String table, String attribute, String key, int column) {
        return (String) ((JavascriptExecutor) browser).executeScript(
                "const c = document.querySelector(arguments[0]); return c ? c.textContent : null;",
                "#" + table + " tr[" + attribute + "='" + key + "'] td:nth-child(" + column + ")");
    }

    /** Clicks a VM's action button, retrying when the table was just re-rendered. */
    private void clickAction(String vm, String action) {
        waitUpTo(Duration.ofSeconds(10)).until(d -> {
            d.findElement(By.cssSelector("#vms tr[data-vm='" + vm + "'] button[data-action='" + action + "']")).click();
            return true;
        });
    }

    /** Clicks web-1's "HA" button and answers the priority prompt. */
    private void answerHaPrompt(String answer) {
        clickAction("web-1", "HA");
        Alert prompt = waitUpTo(Duration.ofSeconds(5)).until(ExpectedConditions.alertIsPresent());
        assertThat(prompt.getText()).contains("Restart priority 0-100");
        prompt.sendKeys(answer);
        prompt.accept();
    }

    private Object script(String js) {
        return ((JavascriptExecutor) browser).executeScript(js);
    }

    private boolean displayed(String id) {
        return browser.findElement(By.id(id)).isDisplayed();
    }

    /** Fills in and submits the login form (once it is shown). */
    private void logIn(String user, String password) {
        waitUpTo(Duration.ofSeconds(20)).until(ExpectedConditions.visibilityOfElementLocated(By.id("login-user")));
        WebElement u = browser.findElement(By.id("login-user"));
        u.clear();
        u.sendKeys(user);
        WebElement p = browser.findElement(By.id("login-password"));
        p.clear();
        p.sendKeys(password);
        browser.findElement(By.id("login-submit")).click();
    }

    /** Logs in as the lab's administrator and waits for the console with the user line. */
    private void logInAsAdmin() {
        logIn("admin", Lab.ADMIN_PASSWORD);
        waitUpTo(Duration.ofSeconds(20)).until(ExpectedConditions.visibilityOfElementLocated(By.id("vms")));
        waitUpTo(Duration.ofSeconds(10)).until(ExpectedConditions.textToBePresentInElementLocated(By.id("whoami"),
                "roles"));
        assertThat(browser.findElement(By.id("whoami")).getText()).contains("admin");
        assertThat(displayed("login-user")).isFalse();
        assertThat(displayed("logout")).isTrue();
    }

    /** The login form is shown, and nothing of the console: no user line, no tables, no data in the page. */
    private void assertLoggedOut() {
        waitUpTo(Duration.ofSeconds(10)).until(ExpectedConditions.visibilityOfElementLocated(By.id("login-user")));
        assertThat(displayed("login-password")).isTrue();
        assertThat(displayed("login-submit")).isTrue();
        assertThat(displayed("vms")).as("VM list").isFalse();
        assertThat(displayed("hosts")).as("host list").isFalse();
        assertThat(displayed("whoami")).as("user line").isFalse();
        assertThat(browser.findElements(By.cssSelector("#vms tbody tr"))).as("VM rows in the page").isEmpty();
        assertThat(script("return sessionStorage.getItem('carevisor.token')")).as("token in sessionStorage").isNull();
    }

    @Test
    void operatorManagesAVmFromTheBrowser() throws Exception {
        assertThat(lab.managerUrl()).startsWith("https://");
        // a plain http:// address is sent to HTTPS by the manager
        browser.get(lab.managerUrl().replace("https://", "http://") + "/");
        waitUpTo(Duration.ofSeconds(20)).until(d -> d.getCurrentUrl().startsWith("https://"));
        assertThat(script("return window.isSecureContext")).as("the console runs in a secure context").isEqualTo(true);

        // Without a login there is only the login form.
        waitUpTo(Duration.ofSeconds(20)).until(ExpectedConditions.visibilityOfElementLocated(By.id("login-user")));
        assertThat(displayed("vms")).isFalse();

        // A wrong password is refused with an explanation.
        logIn("admin", Lab.ADMIN_PASSWORD + "-not");
        waitUpTo(Duration.ofSeconds(20)).until(ExpectedConditions.visibilityOfElementLocated(By.id("login-error")));
        assertThat(browser.findElement(By.id("login-error")).getText()).containsIgnoringCase("wrong");
        assertThat(displayed("vms")).isFalse();
        assertThat(script("return sessionStorage.getItem('carevisor.token')")).isNull();

        // The right one opens the console; the user line names the user and their roles.
        logInAsAdmin();
        assertThat(browser.findElement(By.id("login-error")).isDisplayed()).isFalse();
        assertThat((String) script("return sessionStorage.getItem('carevisor.token')")).isNotBlank();
        assertThat(browser.manage().getCookies()).as("the token is not a cookie").isEmpty();
        waitUpTo(Duration.ofSeconds(20)).until(ExpectedConditions.textToBePresentInElementLocated(By.id("health"), "ok"));
        waitUpTo(Duration.ofSeconds(20)).until(ExpectedConditions.textToBePresentInElementLocated(By.id("hosts"),
                "lab-host"));
        assertThat(browser.findElement(By.id("hosts")).getText()).contains("lab-host", "connected", "tcg");

        // Create and start a VM through the form.
        WebElement form = browser.findElement(By.id("create"));
        form.findElement(By.name("name")).sendKeys("web-1");
        WebElement memory = form.findElement(By.name("memoryMiB"));
        memory.clear();
        memory.sendKeys("128");
        waitUpTo(Duration.ofSeconds(20)).until(d -> !new Select(form.findElement(By.name("image"))).getOptions().isEmpty());
        new Select(form.findElement(By.name("image"))).selectByValue("carevisor-appliance");
        form.findElement(By.cssSelector("button[type=submit]")).click();
        waitUpTo(Duration.ofSeconds(60)).until(d -> "running".equals(cell("web-1", 2)));
        assertThat(cell("web-1", 3)).isEqualTo("running");

        // Its serial console shows the guest's ready marker.
        clickAction("web-1", "console");
        waitUpTo(BOOT).until(ExpectedConditions.textToBePresentInElementLocated(By.id("console"),
                "CAREVISOR-GUEST-READY boot_id="));
        screenshot("web-console.png");

        // High availability: the section shows the host as the HA service sees it; a protected VM is listed with
        // its priority, and when its QEMU is killed the decision to restart it appears and it runs again.
        waitUpTo(Duration.ofSeconds(20)).until(d -> "up".equals(haCell("ha-hosts", "data-host", "lab-host", 2)));
        assertThat(browser.findElement(By.id("ha-vms")).getText()).contains("No VM is HA-protected");
        assertThat(cell("web-1", 9)).as("HA column").isEqualTo("off");
        // Turned on from the VM's "HA" button: a priority out of range is refused naming it, 90 is taken.
        answerHaPrompt("150");
        waitUpTo(Duration.ofSeconds(10)).until(ExpectedConditions.textToBePresentInElementLocated(By.id("message"),
                "from 0 to 100, not '150'"));
        assertThat(lab.api().get("/api/v1/vms/web-1/ha").expect(200).json().path("enabled").asBoolean()).isFalse();
        answerHaPrompt("90");
        waitUpTo(Duration.ofSeconds(20)).until(d -> "running".equals(haCell("ha-vms", "data-vm", "web-1", 4)));
        waitUpTo(Duration.ofSeconds(10)).until(d -> "on, priority 90".equals(cell("web-1", 9)));
        assertThat(haCell("ha-vms", "data-vm", "web-1", 1)).isEqualTo("90");
        assertThat(haCell("ha-vms", "data-vm", "web-1", 3)).isEqualTo("lab-host");
        long qemu = lab.qemuPid(lab.vm("web-1").path("id").asText());
        new ProcessBuilder("kill", "-KILL", Long.toString(qemu)).inheritIO().start().waitFor();
        waitUpTo(Duration.ofSeconds(30)).until(ExpectedConditions.textToBePresentInElementLocated(
                By.id("ha-decisions"), "restart"));
        assertThat(browser.findElement(By.id("ha-decisions")).getText()).contains("web-1")
                .as("hosts by name, not by id").contains("was on lab-host");
        waitUpTo(BOOT).until(d -> "running".equals(cell("web-1", 2))
                && "running".equals(haCell("ha-vms", "data-vm", "web-1", 4)));
        assertThat(lab.qemuPid(lab.vm("web-1").path("id").asText())).as("a new QEMU").isNotEqualTo(qemu);
        screenshot("web-console-ha.png");
        answerHaPrompt(""); // an empty priority turns HA off
        waitUpTo(Duration.ofSeconds(10)).until(d -> "off".equals(cell("web-1", 9)));
        assertThat(lab.api().get("/api/v1/vms/web-1/ha").expect(200).json().path("enabled").asBoolean()).isFalse();
        assertThat(browser.findElement(By.id("ha-vms")).getText()).contains("No VM is HA-protected");

        // A refused request is shown with the manager's explanation.
        form.findElement(By.name("name")).sendKeys("web-1");
        form.findElement(By.cssSelector("button[type=submit]")).click();
        waitUpTo(Duration.ofSeconds(10)).until(ExpectedConditions.textToBePresentInElementLocated(By.id("message"),
                "already exists"));

        // Power off.
        clickAction("web-1", "power off");
        waitUpTo(Duration.ofSeconds(60)).until(d -> "stopped".equals(cell("web-1", 2)));

        // Log out: the login form is back, the VM list (with web-1) and the console are gone, and stay gone:
        // no refresh brings them back, nor does reloading the page.
        browser.findElement(By.id("logout")).click();
        assertLoggedOut();
        assertThat(displayed("console")).isFalse();
        Thread.sleep(2500); // more than one refresh period
        assertLoggedOut();
        assertThat(cell("web-1", 1)).isNull();
        browser.navigate().refresh();
        assertLoggedOut();

        // Log in again, then delete (confirming the dialog).
        logInAsAdmin();
        waitUpTo(Duration.ofSeconds(20)).until(d -> "stopped".equals(cell("web-1", 2)));
        clickAction("web-1", "delete");
        waitUpTo(Duration.ofSeconds(5)).until(ExpectedConditions.alertIsPresent()).accept();
        waitUpTo(Duration.ofSeconds(60)).until(d -> cell("web-1", 1) == null);
        waitUpTo(Duration.ofSeconds(10)).until(ExpectedConditions.textToBePresentInElementLocated(By.id("tasks"),
                "vm.delete"));
        assertThat(browser.findElement(By.id("tasks")).getText()).contains("vm.delete", "succeeded");
        assertThat(browser.findElement(By.id("tasks")).getText()).as("times with their date, 24-hour, with the zone")
                .containsPattern("\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} [+-]\\d{2}:\\d{2}").doesNotContain(" AM", " PM");
    }
}
