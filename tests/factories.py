import factory
from django.contrib.auth.models import Group

from accounts.models import Account, DeveloperProfile, Membership, User
from portal.models import App, Stage

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        """Give the user a verified primary email address, as allauth expects after sign-up."""
        if create:
            from allauth.account.models import EmailAddress

            obj.save()
            EmailAddress.objects.get_or_create(user=obj, email=obj.email, defaults={"verified": True, "primary": True})


class DeveloperFactory(factory.django.DjangoModelFactory):
    """A developer profile (with its user); ``partner=True`` makes it an approved partner."""

    class Meta:
        model = DeveloperProfile

    class Params:
        partner = factory.Trait(partner_status=DeveloperProfile.PartnerStatus.APPROVED)

    user = factory.SubFactory(UserFactory)
    dev_ref = factory.Sequence(lambda n: f"dev-{n}")
    company = factory.Faker("company")
    contact_name = factory.Faker("name")


def make_reviewer(**kwargs) -> User:
    user = UserFactory(is_staff=True, **kwargs)
    user.groups.add(Group.objects.get_or_create(name="reviewers")[0])
    return user


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    code = factory.Sequence(lambda n: f"account{n}")
    name = factory.Faker("company")
    datacentre = "eu1"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    account = factory.SubFactory(AccountFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.OWNER


class AppFactory(factory.django.DjangoModelFactory):
    """An app written straight to the database (services are tested separately)."""

    class Meta:
        model = App

    user = factory.LazyAttribute(lambda o: DeveloperFactory().user)
    client_id = factory.Sequence(lambda n: f"app-{n}")
    name = factory.Sequence(lambda n: f"App {n}")
    short_description = "Keeps things in sync."
    redirect_uris = "https://app.example.com/callback"
    client_type = App.CLIENT_CONFIDENTIAL
    authorization_grant_type = App.GRANT_AUTHORIZATION_CODE
    client_secret = "factory-secret"
    stage = Stage.IN_DEVELOPMENT
