import { Page } from '../components/Page';

// Placeholder: the page is built by its owner (see the dashboard issue).
export default function NewJob() {
  return <Page title="NewJob">{null}</Page>;
}
