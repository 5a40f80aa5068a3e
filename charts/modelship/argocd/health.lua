-- Argo CD health check for modelship.dev/ModelDeployment (resource.customizations.health.modelship.dev_ModelDeployment).
-- Reads only the status the operator writes: kstatus conditions (Ready, Reconciling, Stalled) and the canary.
-- Runs without Argo CD's optional libraries (no string, math or os): useOpenLibs is not needed.
--   Degraded     Stalled=True: a rollback, a digest that does not verify, pods that crash or cannot pull,
--                a spec the operator refuses
--   Suspended    a canary paused by `modelship pause` or a step without a pause limit
--   Progressing  the operator has not seen this generation yet, a canary on its way, pods starting
--   Healthy      Ready=True and nothing in progress
local hs = { status = "Progressing", message = "Waiting for the operator to report status" }
if obj.status == nil then
  return hs
end
local st = obj.status
local generation = obj.metadata.generation
if generation ~= nil and (st.observedGeneration == nil or st.observedGeneration < generation) then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local conditions = {}
if st.conditions ~= nil then
  for _, c in ipairs(st.conditions) do
    conditions[c.type] = c
  end
end
local ready, reconciling, stalled = conditions["Ready"], conditions["Reconciling"], conditions["Stalled"]
local canary = st.canary

local function said(c)
  if c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  return c.reason
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = said(stalled)
  return hs
end

if canary ~= nil and canary.phase == "Paused" then
  hs.status = "Suspended"
  hs.message = "Canary " .. canary.revision .. " paused at " .. canary.weight .. "%"
  if canary.message ~= nil then
    hs.message = hs.message .. ": " .. canary.message
  end
  return hs
end

if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  if canary ~= nil and canary.phase ~= "Promoted" and canary.phase ~= "RolledBack" then
    local where = canary.phase
    if canary.step ~= nil and canary.step >= 0 then
      where = "step " .. (canary.step + 1)
    end
    hs.message = "Canary " .. canary.revision .. " " .. where .. " at " .. canary.weight .. "%"
    if canary.message ~= nil then
      hs.message = hs.message .. ": " .. canary.message
    end
  else
    hs.message = said(reconciling)
  end
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end
if ready ~= nil then
  hs.message = said(ready)
end
return hs
