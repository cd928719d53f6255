-- Multi-stage builds: a stage builds, the final stage copies its result; --target
-- stops at a stage; a stage the target does not need is not built.

local dockerfile = [[
FROM busybox AS build
RUN mkdir /out && echo compiled > /out/app
FROM busybox AS unused
RUN echo never needed > /never
FROM busybox
COPY --from=build /out/app /usr/local/bin/app
CMD ["cat", "/usr/local/bin/app"]
]]

local img, report = lab.build{dockerfile = dockerfile, tag = "ms"}
lab.expect(lab.run("ms")):stdout("compiled\n")
lab.expect(report.output):not_contains("never needed")
lab.expect(report.steps):len(5)
lab.expect(img):no_file("/out/app")
-- busybox's layer and the COPY: nothing of the build stage.
lab.expect(img:layers()):len(2)

local target = lab.build{dockerfile = dockerfile, target = "unused", tag = "ms:unused"}
lab.expect(target):file("/never", "never needed\n")
lab.expect(lab.images()):len(3)
