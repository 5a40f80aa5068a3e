/**
 * `GET PROFILE_PATH(model)` (contract/drift.ts): the model's verified drift reference profile, for
 * the router. 404 {"error"} when the server has no profile (or no such model), 503 while the
 * profile or the model is still loading, 500 when the profile does not fit the model's tensors.
 */
import { Router } from 'express';
import { checkProfileFits, type ReferenceProfile } from '../../../contract/drift.js';
import type { ServedProfile } from '../model/profile.js';
import { HttpError } from './errors.js';
import { methodNotAllowed, routeName, sendJson, type HttpContext } from './context.js';

/** The profile route, serving `served`'s profile. */
export function profileRoutes(ctx: HttpContext, served: ServedProfile): Router {
  const router = Router();
  /** Whether the profile fitted the model, checked once the model is loaded. */
  const fits = new WeakMap<ReferenceProfile, { ok: true } | { ok: false; error: string }>();
  router
    .route('/modelship/v1/models/:name/profile')
    .get(routeName('profile'), (req, res) => {
      const name = req.params.name;
      const profile = served.current();
      // metadata() throws not_found (404) for a model this server does not serve.
      const metadata = ctx.dataPlane.metadata(name);
      if (profile === undefined) throw new HttpError(404, `model ${name} has no drift profile`);
      if (profile === 'loading' || !ctx.dataPlane.ready()) {
        throw new HttpError(503, `the drift profile of model ${name} is not loaded yet`);
      }
      let fit = fits.get(profile);
      if (!fit) {
        fit = checkProfileFits(profile, metadata);
        fits.set(profile, fit);
      }
      if (!fit.ok) throw new HttpError(500, `model ${name}: ${fit.error}`);
      sendJson(res, 200, profile);
    })
    .all(methodNotAllowed('GET'));
  return router;
}
