-- The seed's second half: build the Apache example (FROM busybox, since httpd:2.4
-- cannot be pulled here), check from inside a container of it that the page is
-- served, and see images and containers listed as Docker lists them.

-- Relative host paths resolve against this script's directory.
local example = "../examples/apache"

-- # docker build -t my-apache2 .
local img, report = lab.build{context = example, tag = "my-apache2"}
lab.expect(img):has_tag("my-apache2:latest")
lab.assert_eq(report.id, img.id)
lab.expect(report.output):contains("Successfully tagged my-apache2:latest\n")
lab.assert_eq(img:config().cmd, {"httpd", "-f", "-v", "-p", "80", "-h", "/www"})
lab.expect(img):file("/usr/local/apache2/htdocs/index.html")

-- # The page is served: the server starts in the background on another port and a
-- # client in the same container fetches it.
local page = lab.run("my-apache2", "httpd -p 8080 -h /www; sleep 0.3; wget -qO- http://127.0.0.1:8080/", {rm = true})
lab.expect(page):exit_code(0):stdout_contains("<h1>It works!</h1>")

-- # docker run --rm --name my-running-app my-apache2: the image's own command serves
-- # in the foreground until it is stopped (here after a second).
lab.expect(function()
  lab.run("my-apache2", nil, {name = "my-running-app", rm = true, timeout = 1})
end):raises("timed out")

-- # docker images: the new image beside busybox, no intermediate images.
local images = tostring(lab.images())
lab.expect(images):matches("\nmy%-apache2%s+latest%s+" .. img.short_id)
lab.expect(lab.images()):len(2)

-- # docker ps, ps -a, ps -l: the build left no container behind.
lab.expect(lab.ps()):len(0)
lab.expect(lab.ps{all = true}):len(0)
local c = lab.run("my-apache2", "true")
lab.assert_eq(lab.ps{latest = true}[1].id, c.id)

-- # Building again does no work: every step comes from the cache.
local again, r2 = lab.build{context = example, tag = "my-apache2"}
lab.assert_eq(again.id, img.id)
lab.assert_eq(r2.ran, 0)
lab.assert_eq(r2.hits, #r2.steps - 1)
